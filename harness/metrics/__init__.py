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
shapes), ``paired`` (model-vs-model deltas for ``compare``), ``audit`` (``audit_metrics``);
for K-class audits ``multiclass`` (pure kernels of class indices and (N, K) probabilities) and
``kclass_audit`` (``kclass_audit_metrics``).
"""
from __future__ import annotations

import importlib

#: Public name -> the submodule that defines it. The kernels pull in numpy, pandas and fairlearn;
#: the metric catalogue (what ``harness gate`` reads) needs none of them, so the names below load
#: on first use and ``import harness.metrics.catalogue`` stays cheap.
_HOMES = {
    "SCHEMA_ID": "audit", "audit_metrics": "audit", "kclass_audit_metrics": "kclass_audit",
    "bootstrap_counts": "bootstrap", "bootstrap_indices": "bootstrap",
    "counts_from_indices": "bootstrap", "percentile_interval": "bootstrap",
    "wilson_interval": "bootstrap",
    "metric_frame": "frame", "paired_deltas": "paired",
    "METRIC_INFO": "rates", "METRICS": "rates", "binary_metrics": "rates", "weighted_auc": "rates",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'harness.metrics' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
