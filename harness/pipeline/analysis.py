"""The metrics stage: per grouping x variant x group, with intervals, gaps, thresholds and flips
(``harness.metrics.audit_metrics``; the ``metrics`` section of results.json)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.config import AuditConfig
from harness.metrics import audit_metrics
from harness.pipeline.timer import Timer
from subgroups import group_order


def metrics_stage(cfg: AuditConfig, *, y_true: np.ndarray, p: dict[str, np.ndarray],
                  groupings: dict[str, np.ndarray], threshold: float, timer: Timer,
                  class_names: Sequence[str] = (),
                  positive_class: str | None = None) -> dict[str, Any]:
    """The ``metrics`` section: ``p`` holds ``"clean"`` and every variant, ``groupings`` the
    estimated skin-tone ``"group"`` and the label groupings; groups of the estimate are ordered
    light to dark as the scheme names them. ``class_names`` and ``positive_class`` (the model's)
    name the classes in the reasons of groups too small to judge."""
    with timer.stage("metrics"):
        return audit_metrics(y_true=y_true, p=p, groups=groupings, threshold=threshold,
                             n_boot=cfg.n_boot, seed=cfg.seed, min_n=cfg.min_group_n,
                             min_per_class=cfg.min_group_per_class,
                             target_sensitivity=cfg.target_sensitivity,
                             group_order={"group": group_order(cfg.skin_tone_scheme)},
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
