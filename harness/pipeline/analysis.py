"""The metrics stage: per grouping x variant x group, with intervals, gaps, thresholds and flips
(``harness.metrics.audit_metrics``; the ``metrics`` section of results.json)."""
from __future__ import annotations

from typing import Any

import numpy as np

from harness.config import AuditConfig
from harness.metrics import audit_metrics
from harness.pipeline.timer import Timer
from subgroups import group_order


def metrics_stage(cfg: AuditConfig, *, y_true: np.ndarray, p: dict[str, np.ndarray],
                  groupings: dict[str, np.ndarray], threshold: float,
                  timer: Timer) -> dict[str, Any]:
    """The ``metrics`` section: ``p`` holds ``"clean"`` and every variant, ``groupings`` the
    estimated skin-tone ``"group"`` and the label groupings; groups of the estimate are ordered
    light to dark as the scheme names them."""
    with timer.stage("metrics"):
        return audit_metrics(y_true=y_true, p=p, groups=groupings, threshold=threshold,
                             n_boot=cfg.n_boot, seed=cfg.seed, min_n=cfg.min_group_n,
                             min_per_class=cfg.min_group_per_class,
                             target_sensitivity=cfg.target_sensitivity,
                             group_order={"group": group_order(cfg.skin_tone_scheme)})
