"""The metrics stage: per grouping x variant x group, with intervals, gaps, thresholds and flips
(``harness.metrics.audit_metrics``; the ``metrics`` section of results.json)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.config import AuditConfig
from harness.metrics import audit_metrics, kclass_audit_metrics
from harness.pipeline.timer import Timer
from subgroups import group_order


def metrics_stage(cfg: AuditConfig, *, y_true: np.ndarray, p: dict[str, np.ndarray],
                  groupings: dict[str, np.ndarray], threshold: float, timer: Timer,
                  class_names: Sequence[str] = (),
                  positive_class: str | None = None,
                  class_probs: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """The ``metrics`` section: ``p`` holds ``"clean"`` and every variant, ``groupings`` the
    estimated skin-tone ``"group"`` and the label groupings; groups of the estimate are ordered
    light to dark as the scheme names them. ``class_names`` and ``positive_class`` (the model's)
    name the classes in the reasons of groups too small to judge. With ``class_probs`` (a K-class
    model: variant -> (N, K)) and ``y_true`` the class indices, the audit is a K-class one
    (``harness.metrics.kclass_audit``)."""
    order = {"group": group_order(cfg.skin_tone_scheme)}
    if class_probs is not None:
        with timer.stage("metrics"):
            return kclass_audit_metrics(y_true=y_true, probs=class_probs,
                                        class_names=class_names, groups=groupings,
                                        n_boot=cfg.n_boot, seed=cfg.seed, min_n=cfg.min_group_n,
                                        min_per_class=cfg.min_group_per_class,
                                        group_order=order)
    with timer.stage("metrics"):
        return audit_metrics(y_true=y_true, p=p, groups=groupings, threshold=threshold,
                             n_boot=cfg.n_boot, seed=cfg.seed, min_n=cfg.min_group_n,
                             min_per_class=cfg.min_group_per_class,
                             target_sensitivity=cfg.target_sensitivity,
                             group_order=order,
                             class_labels=binary_class_labels(class_names, positive_class))


def binary_class_labels(class_names: Sequence[str],
                        positive_class: str | None) -> tuple[str, str] | None:
    """(negative, positive) names of the audit's binary view: the other class of a two-class
    model, ``"not <positive>"`` for more classes; None when the positive class is not named."""
    if not positive_class:
        return None
    others = [str(c) for c in class_names if str(c) != str(positive_class)]
    negative = others[0] if len(others) == 1 else f"not {positive_class}"
    return negative, str(positive_class)
