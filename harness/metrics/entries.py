"""The two JSON shapes every number takes in the "metrics" section.

Metric value ``M``: ``{"value", "ci", "n", "ci_method", "reason"}``; gap value ``G``:
``{"value", "ci", "reason"}``. Plain floats and ints only; an undefined number is ``None`` with a
reason beside it, never NaN.
"""
from __future__ import annotations

import math

import numpy as np

from .bootstrap import wilson_bounds

#: A proportion gets the Wilson interval when its denominator is below this ...
WILSON_BELOW_N = 50
#: ... or when it has fewer than this many successes or failures (0 and 1 included).
WILSON_BELOW_COUNT = 5

WILSON_RULE = (
    f"proportions (accuracy, sensitivity, specificity, precision, npv, flip rates) use the Wilson "
    f"score interval instead of the bootstrap when their denominator is below {WILSON_BELOW_N} or "
    f"they have fewer than {WILSON_BELOW_COUNT} successes or failures (which includes estimates of "
    f"exactly 0 or 1, where a percentile bootstrap collapses), or when the bootstrap interval has "
    f"no width although the proportion is neither 0 nor 1 (resampling within each label holds "
    f"e.g. the accuracy of a model that always predicts one class fixed)"
)


def use_wilson(successes: float, n: float) -> bool:
    """The Wilson rule (see ``WILSON_RULE``)."""
    return n < WILSON_BELOW_N or min(successes, n - successes) < WILSON_BELOW_COUNT


def _collapsed(lo, hi, successes: float, n: float) -> bool:
    """A zero-width bootstrap interval around a proportion strictly between 0 and 1."""
    lo, hi = fnum(lo), fnum(hi)
    return lo is not None and hi is not None and hi - lo < 1e-12 and 0 < successes < n


def fnum(x) -> float | None:
    """A finite float, or None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _undefined_note(n_undef: int, n_boot: int, why: str) -> str:
    return f"undefined in {n_undef} of {n_boot} resamples ({why}); interval over the rest"


def metric_entry(*, value: float, n: int, lo: float, hi: float, n_undef: int, n_boot: int,
                 undefined_reason: str, successes: float | None = None,
                 level: float = 0.95) -> dict:
    """One metric value ``M``.

    ``successes`` is given for proportions (value = successes / n): they follow the Wilson rule.
    ``lo``/``hi`` are the percentile bootstrap bounds, ``n_undef`` the resamples where the metric
    was undefined.
    """
    v = fnum(value)
    if v is None:
        return {"value": None, "ci": None, "n": int(n), "ci_method": None,
                "reason": undefined_reason}
    if successes is not None and (use_wilson(successes, n) or _collapsed(lo, hi, successes, n)):
        wl, wh = wilson_bounds(float(successes), float(n), level=level)
        return {"value": v, "ci": [wl, wh], "n": int(n), "ci_method": "wilson",
                "reason": None}
    iv = interval_fields(lo, hi, n_undef, n_boot, undefined_reason)
    return {"value": v, "ci": iv["ci"], "n": int(n),
            "ci_method": "bootstrap" if iv["ci"] is not None else None, "reason": iv["reason"]}


def interval_fields(lo, hi, n_undef: int, n_boot: int, why: str) -> dict:
    """{"ci", "reason"} of a bootstrap interval."""
    lo, hi = fnum(lo), fnum(hi)
    if lo is None or hi is None:
        return {"ci": None, "reason": f"undefined in every resample ({why})"}
    reason = _undefined_note(int(n_undef), n_boot, why) if n_undef else None
    return {"ci": [lo, hi], "reason": reason}


def gap_entry(value, lo, hi, n_undef, n_boot: int, *, undefined_reason: str) -> dict:
    """One gap value ``G``."""
    v = fnum(value)
    if v is None:
        return {"value": None, "ci": None, "reason": undefined_reason}
    return {"value": v, **interval_fields(lo, hi, n_undef, n_boot, undefined_reason)}


def as_list(a) -> list:
    """A float array -> list of float/None."""
    return [fnum(x) for x in np.asarray(a, dtype=np.float64).ravel()]


def by_cell(cells: list[str], items: list) -> dict:
    """{"overall": items[0], "groups": {group: item}} from per-cell lists (cell 0 = overall)."""
    return {"overall": items[0], "groups": dict(zip(cells[1:], items[1:]))}
