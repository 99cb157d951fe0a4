"""Gate files: the metrics a gate can name, the :class:`Gate` record and :func:`load_gates`.

A gate file is YAML with a ``gates:`` list (syntax and examples in docs/gates.md). Loading checks
everything that can be checked without a run: keys, metric, scope, grouping name, perturbation and
severity syntax, bounds. Whether a run has the perturbation, grouping or groups a gate names is
checked when the gate is judged (``harness.gates.evaluate``). Metric names, directions and where each
value sits come from the metric catalogue (``harness.metrics.catalogue``). Plain Python only (the
file is read by ``harness.yaml_file``, which imports yaml on use).
"""
from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.metrics.catalogue import CATALOGUE, names
from harness.results.variants import split_variant

VERDICTS: tuple[str, ...] = ("PASS", "WARN", "FAIL", "INSUFFICIENT")
SCOPES: tuple[str, ...] = ("overall", "each_group", "worst_group", "group_gap")
DEFAULT_GROUPING = "group"

#: Metrics of one cell (the "metrics" schema, ``harness.metrics.METRICS``): higher is better?
CELL_METRICS: dict[str, bool] = {m: CATALOGUE[m].higher_is_better for m in names(where="cell")}
#: Robustness of a variant against clean (``robustness[V]``): higher is better?
FLIP_METRICS: dict[str, bool] = {m: CATALOGUE[m].higher_is_better for m in names(where="flip")}
#: ``<metric>_drop`` (clean − variant) and ``<metric>_relative_drop`` ((clean − variant) / clean):
#: the base metric and which drop (``robustness[V].drop[base][absolute|relative]``).
DROP_METRICS: dict[str, tuple[str, str]] = {m: CATALOGUE[m].source for m in names(where="drop")}
#: Between-group statistics with no per-group value: the sub-key of
#: ``gaps.equalized_odds_difference`` (None: the entry itself).
BETWEEN_GROUP_STATISTICS: dict[str, str | None] = {m: CATALOGUE[m].source
                                                   for m in names(where="gap")}
#: Per-class metrics of a K-class audit (``classes.<name>`` of a cell; a gate names the class with
#: ``class:``): catalogue name -> key. A gate may write the key (``recall``) or the name.
CLASS_METRICS: dict[str, str] = {m: CATALOGUE[m].source for m in names(where="class")}
#: Grad-CAM drift medians (``gradcam.drift[V]``), keyed by their name in ``harness.explain.attention``.
DRIFT_METRICS: dict[str, str] = {m: CATALOGUE[m].source for m in names(where="drift")}

#: Metrics a regression gate may name with a perturbation (compare holds their per-variant deltas).
REGRESSION_VARIANT_METRICS: tuple[str, ...] = (
    "flip_rate", "right_to_wrong", "wrong_to_right", "mean_abs_delta_p", "balanced_accuracy",
    "roc_auc")

#: Every metric a gate can name (the whole catalogue), in catalogue order.
ALL_METRICS: tuple[str, ...] = names()

_KEYS = {"name", "description", "metric", "scope", "grouping", "perturbation", "severity", "min",
         "max", "warn_min", "warn_max", "groups", "max_regression", "class"}
_BOUND_KEYS = ("min", "max", "warn_min", "warn_max")


def _entry(metric: str):
    if metric not in CATALOGUE:
        raise ValueError(f"unknown metric {metric!r}")
    return CATALOGUE[metric]


def metric_kind(metric: str) -> str:
    """Where a gate metric's value sits: "cell", "class", "flip", "drop", "gap" or "drift"."""
    return _entry(metric).where


def higher_is_better(metric: str) -> bool:
    """Direction of a gate metric (drops, gaps and flip rates: lower is better)."""
    return _entry(metric).higher_is_better


@dataclass(frozen=True)
class Gate:
    """One validated gate of a gate file (see docs/gates.md for the YAML it comes from).

    ``perturbation`` None means the default: the clean images for cell and gap metrics, every
    perturbed variant of the run for robustness and drift metrics. ``severity`` None means every
    severity the run has. ``groups`` is a pair ``(a, b)`` (gap = a − b) or ``"first_vs_last"``.
    """

    name: str
    metric: str
    scope: str = "overall"
    grouping: str = DEFAULT_GROUPING
    perturbation: tuple[str, ...] | None = None
    severity: tuple[int, ...] | None = None
    min: float | None = None
    max: float | None = None
    warn_min: float | None = None
    warn_max: float | None = None
    groups: tuple[str, str] | str | None = None
    max_regression: float | None = None
    description: str | None = None
    index: int = 0
    source: str = ""
    class_name: str | None = None

    @property
    def kind(self) -> str:
        """"regression" (judged by compare) or "absolute"."""
        return "regression" if self.max_regression is not None else "absolute"

    @property
    def label(self) -> str:
        """How messages name the gate: file, 1-based position and name."""
        where = f"{self.source}: " if self.source else ""
        return f"{where}gate #{self.index + 1} ({self.name!r})"

    def bound(self) -> dict[str, float]:
        """The hard bounds as written into a verdict."""
        if self.max_regression is not None:
            return {"max": self.max_regression}
        return {k: v for k, v in (("min", self.min), ("max", self.max)) if v is not None}

    def warn_bound(self) -> dict[str, float]:
        return {k: v for k, v in (("min", self.warn_min), ("max", self.warn_max)) if v is not None}


# ------------------------------------------------------------------------------------ loading
def load_gates(path: str | Path) -> list[Gate]:
    """Read and validate a gate file.

    Parameters
    ----------
    path : a YAML file with a top-level ``gates:`` list (docs/gates.md).

    Returns
    -------
    list of :class:`Gate`, in file order.

    Raises
    ------
    UserError
        One line naming the file, the gate (position and name) and the problem: not YAML, no
        ``gates:`` list, an unknown key, metric or scope, a missing or non-numeric bound, a bad
        severity or pair of groups. Whether a perturbation or grouping exists is checked against
        the run, in :func:`evaluate_gates`.
    """
    from harness.errors import UserError
    from harness.yaml_file import read_yaml

    p = Path(path)
    doc, _ = read_yaml(p, what="gate file", hint="give a YAML file with a 'gates:' list (e.g. "
                                                  "configs/gates/ci-default.yaml)")
    if not isinstance(doc, dict) or "gates" not in doc:
        got = type(doc).__name__ if not isinstance(doc, dict) else f"keys {sorted(map(str, doc))}"
        raise UserError(f"{p}: expected a mapping with a 'gates:' list (got {got}); see "
                        f"docs/gates.md")
    extra = sorted(str(k) for k in doc if k != "gates")
    if extra:
        raise UserError(f"{p}: unknown top-level key(s) {', '.join(extra)}; only 'gates:' is read")
    items = doc["gates"]
    if not isinstance(items, list) or not items:
        raise UserError(f"{p}: 'gates:' must be a non-empty list of gates (got "
                        f"{type(items).__name__ if items is not None else 'nothing'})")
    return [_parse_gate(item, i, str(p)) for i, item in enumerate(items)]


def _parse_gate(item: Any, index: int, source: str) -> Gate:
    from harness.errors import UserError

    if not isinstance(item, dict):
        raise UserError(f"{source}: gate #{index + 1}: expected a mapping with metric, scope and a "
                        f"bound (got {item!r})")
    raw_name = item.get("name")
    name = str(raw_name) if raw_name not in (None, "") else f"{item.get('metric', '?')} " \
        f"{item.get('scope', 'overall')}"
    label = f"{source}: gate #{index + 1} ({name!r})"

    def bad(problem: str) -> UserError:
        return UserError(f"{label}: {problem}")

    unknown = sorted(str(k) for k in item if k not in _KEYS)
    if unknown:
        hint = _did_you_mean(unknown[0], _KEYS)
        raise bad(f"unknown key {unknown[0]!r}{hint}; allowed: {', '.join(sorted(_KEYS))}")

    metric = item.get("metric")
    if not isinstance(metric, str) or not metric:
        raise bad(f"needs a metric (got {metric!r}); one of {', '.join(ALL_METRICS)}")
    class_name = item.get("class")
    if class_name is not None:
        if not isinstance(class_name, (str, int)) or isinstance(class_name, bool) \
                or not str(class_name).strip():
            raise bad(f"class must be a class name of the model (got {class_name!r})")
        class_name = str(class_name).strip()
        keys = {key: name for name, key in CLASS_METRICS.items()}
        if metric in keys:
            metric = keys[metric]
        if metric not in CLASS_METRICS:
            raise bad(f"'class: {class_name}' goes with a per-class metric, one of "
                      f"{', '.join(keys)} (got {metric!r})")
    elif metric in CLASS_METRICS:
        raise bad(f"{metric} is a per-class metric of a K-class audit: name the class with "
                  f"'class: NAME'")
    if metric not in ALL_METRICS:
        raise bad(f"unknown metric {metric!r}{_did_you_mean(metric, ALL_METRICS)}; one of "
                  f"{', '.join(ALL_METRICS)}")
    kind = metric_kind(metric)

    scope = item.get("scope", "group_gap" if kind == "gap" else "overall")
    if scope not in SCOPES:
        raise bad(f"unknown scope {scope!r}{_did_you_mean(str(scope), SCOPES)}; one of "
                  f"{', '.join(SCOPES)}")
    if kind == "gap" and scope != "group_gap":
        raise bad(f"{metric} is a between-group statistic: scope must be group_gap (got {scope!r})")

    grouping = item.get("grouping", DEFAULT_GROUPING)
    if not isinstance(grouping, str) or not grouping:
        raise bad(f"grouping must be a grouping name such as 'group' or 'fitzpatrick' "
                  f"(got {grouping!r})")
    if kind == "drift" and grouping != DEFAULT_GROUPING:
        raise bad(f"Grad-CAM drift is summarised per estimated skin-tone group only: grouping "
                  f"must be {DEFAULT_GROUPING!r} (got {grouping!r})")

    perturbation = _parse_perturbation(item.get("perturbation"), bad)
    severity = _parse_severity(item.get("severity"), bad)
    if severity is not None and perturbation and any(has_severity(p) for p in perturbation):
        raise bad("give the severity once: either perturbation 'blur@3' or perturbation 'blur' "
                  "with severity 3")
    if kind in ("flip", "drop", "drift") and perturbation and "clean" in perturbation:
        raise bad(f"{metric} compares a perturbed variant with clean: perturbation cannot be "
                  f"'clean'")
    if perturbation and "clean" in perturbation and severity is not None:
        raise bad("the clean images have no severity; drop 'severity' or name a perturbation")

    groups = _parse_groups(item.get("groups"), scope, kind, bad)
    if class_name is not None and "max_regression" in item and scope == "group_gap":
        raise bad("a group_gap regression gate is judged on the macro metrics only; drop 'class'")

    values = {}
    for key in _BOUND_KEYS + ("max_regression",):
        if key in item:
            v = item[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise bad(f"{key} must be a number (got {v!r})")
            values[key] = float(v)
    regression = "max_regression" in values
    if regression:
        mixed = [k for k in _BOUND_KEYS if k in values]
        if mixed:
            raise bad(f"a regression gate (max_regression) compares two runs; it cannot also have "
                      f"{mixed[0]} (put absolute bounds in a gate of their own)")
        if kind in ("drop", "drift"):
            raise bad(f"regression gates support cell metrics, flip statistics and "
                      f"equalized_odds_difference (got {metric!r})")
        if kind == "gap" and metric != "equalized_odds_difference":
            raise bad(f"regression gates on gaps support equalized_odds_difference or a cell metric "
                      f"with scope group_gap (got {metric!r})")
        if perturbation not in (None, ("clean",)) or severity is not None or kind == "flip":
            if metric not in REGRESSION_VARIANT_METRICS:
                raise bad(f"a regression gate on perturbed images supports "
                          f"{', '.join(REGRESSION_VARIANT_METRICS)} (got {metric!r})")
            if scope == "group_gap":
                raise bad("a group_gap regression gate is judged on the clean images only; drop "
                          "perturbation/severity")
        if scope == "group_gap" and groups is not None:
            raise bad("a group_gap regression gate compares max − min gaps; drop 'groups'")
    else:
        if not any(k in values for k in _BOUND_KEYS):
            raise bad("needs a bound: min, max (both for a band), optionally warn_min/warn_max; "
                      "or max_regression for compare")
        lo, hi = values.get("min"), values.get("max")
        if lo is not None and hi is not None and lo > hi:
            raise bad(f"min {lo:g} is above max {hi:g}")
        if hi is not None and values.get("warn_max") is not None and values["warn_max"] > hi:
            raise bad(f"warn_max {values['warn_max']:g} is above max {hi:g}: it would never warn "
                      f"before failing; lower it")
        if lo is not None and values.get("warn_min") is not None and values["warn_min"] < lo:
            raise bad(f"warn_min {values['warn_min']:g} is below min {lo:g}: it would never warn "
                      f"before failing; raise it")
    description = item.get("description")
    return Gate(name=name, metric=metric, scope=scope, grouping=grouping,
                perturbation=perturbation, severity=severity, groups=groups,
                min=values.get("min"), max=values.get("max"), warn_min=values.get("warn_min"),
                warn_max=values.get("warn_max"), max_regression=values.get("max_regression"),
                description=str(description) if description is not None else None,
                index=index, source=source, class_name=class_name)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def has_severity(name: str) -> bool:
    return split_variant(name) is not None


def _parse_perturbation(value, bad) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(v, str) and v.strip() for v in names):
        raise bad(f"perturbation must be a family name (e.g. blur), a variant (blur@3), 'all', "
                  f"'clean' or a list of those (got {value!r})")
    return tuple(dict.fromkeys(v.strip() for v in names))


_UPTO = re.compile(r"^\s*<=\s*(\d+)\s*$")


def _parse_severity(value, bad) -> tuple[int, ...] | None:
    """3 -> (3,); [1, 2] -> (1, 2); "<=3" -> (1, 2, 3); "all" / absent -> None."""
    if value is None or value == "all":
        return None
    if isinstance(value, str):
        m = _UPTO.match(value)
        if m and int(m.group(1)) >= 1:
            return tuple(range(1, int(m.group(1)) + 1))
    else:
        items = value if isinstance(value, list) else [value]
        if items and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in items):
            return tuple(sorted(set(items)))
    raise bad(f"severity must be an integer >= 1, a list of them, '<=N' (every severity 1..N) or "
              f"'all' (got {value!r})")


def _parse_groups(value, scope: str, kind: str, bad) -> tuple[str, str] | str | None:
    if value is None:
        return None
    if scope != "group_gap":
        raise bad(f"'groups' picks the pair a group_gap compares; scope is {scope!r}")
    if kind == "gap":
        raise bad("equalized_odds_difference and its parts compare every group; drop 'groups'")
    if value == "first_vs_last":
        return "first_vs_last"
    if (isinstance(value, list) and len(value) == 2
            and all(isinstance(g, (str, int)) and not isinstance(g, bool) for g in value)
            and str(value[0]) != str(value[1])):
        return str(value[0]), str(value[1])
    raise bad(f"groups must be two different group names [a, b] (gap = a − b) or "
              f"'first_vs_last' (got {value!r})")
