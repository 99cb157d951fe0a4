"""Fairness and robustness metrics of an audit (the "metrics" section of results.json).

Per grouping (e.g. estimated skin-tone group, Fitzpatrick label) × variant (clean and every
perturbation) × cell (overall and each group): confusion matrix, accuracy, balanced accuracy,
sensitivity, specificity, precision, NPV, F1 of each class, macro-F1, ROC AUC, Brier score and
expected calibration error, each with its n and a 95% interval; gaps between groups; threshold
curves and a ThresholdOptimizer what-if; flips, drops and severity curves against clean;
corruption error against a reference run; misclassified images per group.

Intervals are percentile bootstrap over one stratified (group × label) resample matrix per
grouping, reused for every metric, variant and cell; small or degenerate proportions use Wilson.
The full schema is in docs/results-schema.md ("metrics").

Modules: ``rates`` (pure metric kernels, vectorised over replicates), ``bootstrap`` (resamples,
intervals), ``replicates`` (all cells × variants at once), ``frame`` (fairlearn MetricFrame point
estimates), ``gaps``, ``thresholds``, ``robustness``, ``misclassified``, ``entries`` (JSON
shapes), ``paired`` (model-vs-model deltas for ``compare``), ``audit`` (``audit_metrics``).
"""
from __future__ import annotations

from .audit import SCHEMA_ID, audit_metrics
from .bootstrap import (bootstrap_counts, bootstrap_indices, counts_from_indices,
                        percentile_interval, wilson_interval)
from .frame import metric_frame
from .paired import paired_deltas
from .rates import METRIC_INFO, METRICS, binary_metrics, weighted_auc

__all__ = [
    "METRICS", "METRIC_INFO", "SCHEMA_ID", "audit_metrics", "binary_metrics", "bootstrap_counts",
    "bootstrap_indices", "counts_from_indices", "metric_frame", "paired_deltas",
    "percentile_interval", "weighted_auc", "wilson_interval",
]
