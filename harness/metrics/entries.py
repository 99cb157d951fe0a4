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


def small_group_rule(min_n: int, min_per_class: int) -> str:
    """The rule a cell must meet to be judged: ``"at least 30 images and 10 of each class"``.

    Whatever ``min_per_class`` says, a cell needs both classes (one class alone cannot be judged),
    so the per-class minimum stated is at least 1.
    """
    return f"at least {int(min_n)} images and {max(1, int(min_per_class))} of each class"


def too_few_reason(*, n: int, positives: int, min_n: int, min_per_class: int,
                   class_labels: tuple[str, str] | None = None) -> str | None:
    """Why a cell is too small to judge, in words, or None when it meets the rule.

    ``"too few to judge: 12 images, 3 atopic_dermatitis (the rule: at least 30 images and 10 of
    each class)"``: the counts that fall short, each class by its name when ``class_labels``
    (negative, positive) gives them, else as positives / negatives.
    """
    negatives = n - positives
    per_class = max(1, int(min_per_class))
    short = []
    if n < min_n:
        short.append(_count(n, "image", "images"))
    if class_labels:
        classes = ((negatives, class_labels[0], class_labels[0]),
                   (positives, class_labels[1], class_labels[1]))
    else:
        classes = ((negatives, "negative", "negatives"), (positives, "positive", "positives"))
    for count, one, many in classes:
        if count < per_class:
            short.append(_count(count, one, many))
    if not short:
        return None
    return f"too few to judge: {', '.join(short)} (the rule: {small_group_rule(min_n, min_per_class)})"


def too_few_of_each(*, n: int, counts: dict[str, int], min_n: int,
                    min_per_class: int) -> str | None:
    """Why a K-class cell is too small to judge, or None when it meets the rule: fewer than
    ``min_n`` images, or fewer than ``min_per_class`` (at least 1) of some class, each named by
    its count (``"too few to judge: 7 benign (the rule: at least 30 images and 10 of each
    class)"``)."""
    per_class = max(1, int(min_per_class))
    short = [_count(n, "image", "images")] if n < min_n else []
    short += [f"{int(c)} {name}" for name, c in counts.items() if c < per_class]
    if not short:
        return None
    return f"too few to judge: {', '.join(short)} (the rule: {small_group_rule(min_n, min_per_class)})"


def too_few_of_class(*, name: str, count: int, min_per_class: int) -> str | None:
    """Why one class of a K-class cell is too small to judge on its own, or None."""
    per_class = max(1, int(min_per_class))
    if count >= per_class:
        return None
    return f"too few to judge: {int(count)} {name} (the rule: at least {per_class} of the class)"


def too_few_groups(gap_groups: list[str], rule: str | None = None) -> str:
    """Why there is nothing to compare: ``"fewer than 2 groups with enough images to compare
    (only light qualifies; the rule: at least 30 images and 10 of each class)"``."""
    which = ("none qualifies" if not gap_groups
             else "only " + ", ".join(str(g) for g in gap_groups) + " qualifies")
    return (f"fewer than 2 groups with enough images to compare "
            f"({which}{'; the rule: ' + rule if rule else ''})")


def _count(k: int, one: str, many: str) -> str:
    return f"{int(k)} {one if k == 1 else many}"


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
