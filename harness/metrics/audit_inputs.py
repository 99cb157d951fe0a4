"""What every audit's metrics start from: the options checked, the groupings cleaned, the groups
of a grouping in their display order. Shared by the binary (``audit``) and the K-class
(``kclass_audit``) metrics."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import UserError

MISSING_GROUP = "unknown"


def ordered_groups(labels: np.ndarray, order: Sequence[str] | None) -> list[str]:
    """The groups present in ``labels``: those ``order`` lists first, in its order, then the rest
    sorted (numeric labels numerically)."""
    present = set(labels.tolist())
    listed = list(dict.fromkeys(g for g in map(cell_label, order or []) if g in present))
    return listed + sorted(present - set(listed), key=group_sort_key)


_OPTION_RULES = {   # option -> (valid?, what it must be)
    "n_boot": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "min_n": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "min_per_class": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "ci_level": (lambda v: _is_real(v) and 0.0 < v < 1.0, "a number strictly between 0 and 1"),
    "threshold_points": (lambda v: _is_int(v) and v >= 2, "an integer >= 2"),
    "target_sensitivity": (lambda v: _is_real(v) and 0.0 < v <= 1.0, "a number in (0, 1]"),
}


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def check_options(**opts) -> None:
    """Raise ``UserError`` naming the first of the given audit options that is out of range."""
    for name, value in opts.items():
        ok, must = _OPTION_RULES[name]
        if not ok(value):
            raise UserError(f"metrics.{name}: must be {must} (got {value!r}); fix it in the "
                            f"audit config")


def cell_label(x) -> str:
    """A group label as text: missing -> "unknown", 3.0 -> "3"."""
    if x is None or (isinstance(x, (float, np.floating)) and np.isnan(x)) or x is pd.NA:
        return MISSING_GROUP
    if isinstance(x, (float, np.floating)) and float(x).is_integer():
        return str(int(x))
    text = str(x).strip()
    return text if text else MISSING_GROUP


def group_sort_key(label: str):
    """Numeric labels in numeric order (Fitzpatrick "1".."6"), then text labels alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def clean_groupings(groups, n: int) -> dict[str, np.ndarray]:
    if groups is None or len(groups) == 0:
        return {"all": np.full(n, "all")}
    out = {}
    for name, labels in groups.items():
        values = labels.tolist() if hasattr(labels, "tolist") else list(labels)
        if len(values) != n:
            raise ValueError(f"groups[{name!r}] has {len(values)} labels, expected {n}")
        out[str(name)] = np.array([cell_label(x) for x in values], dtype=str)
    return out
