"""One run directory, as the explorer shows it: no Streamlit here, and no model.

Everything is read from ``results.json`` and ``samples.csv`` through :class:`harness.results.audit.Audit`
(``harness.load_run``): the per-group metrics with their intervals (``Audit.metrics``), the
worst judged cells, and the images behind a cell (misclassified under a variant, or whose
probability a variant moved the most), each with the file it came from so that the photograph
view can open it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import UserError
from harness.results.audit import Audit
from harness.results.io import group_label, variant_column

#: The metrics the table shows first (every metric of the run can be chosen).
SHOWN_METRICS = ("balanced_accuracy", "sensitivity", "specificity", "roc_auc", "flip_rate")
#: Images listed behind a cell.
IMAGES_PER_LIST = 8


@dataclass(frozen=True)
class Cell:
    """One group under one variant, ranked by a metric."""

    grouping: str
    group: str
    variant: str
    metric: str
    value: float
    ci_low: float
    ci_high: float
    n: int

    def label(self) -> str:
        group = "all images" if self.group == "overall" else self.group
        if math.isnan(self.value):
            return f"{group} under {self.variant}: {self.metric} undefined, n = {self.n}"
        ci = "" if math.isnan(self.ci_low) else f" [{self.ci_low:.3f}, {self.ci_high:.3f}]"
        return f"{group} under {self.variant}: {self.metric} {self.value:.3f}{ci}, n = {self.n}"


class RunView:
    """A run directory's findings, read once.

    Parameters
    ----------
    audit : Audit
        The run (``harness.load_run(DIR)``).
    """

    def __init__(self, audit: Audit):
        self.audit = audit
        self.results = audit.results
        self.samples = audit.samples
        model = self.results.get("model") or {}
        self.threshold = float(model.get("threshold", 0.5))
        self.positive_class = str(model.get("positive_class") or "")
        self.model_hash = str(model.get("hash") or "")
        self.model_path = str(model.get("path") or "")

    @classmethod
    def open(cls, run_dir: str | Path, *, option: str = "--run") -> "RunView":
        """Read a run directory; UserError (naming ``option``) when it is not one."""
        from harness.api import load_run

        path = Path(str(run_dir).strip()).expanduser()
        if not path.is_dir():
            raise UserError(f"{option} {run_dir}: not a folder; give a run directory written by "
                            "'harness run' (it holds results.json and samples.csv)")
        try:
            return cls(load_run(path))
        except UserError as exc:
            raise UserError(f"{option} {run_dir}: {exc}") from None

    # -- what it holds ----------------------------------------------------------------------------

    @property
    def data_root(self) -> Path:
        return Path(str((self.results.get("dataset") or {}).get("root") or "."))

    def groupings(self) -> list[str]:
        return list(((self.results.get("metrics") or {}).get("groupings") or {}))

    def variants(self, grouping: str = "group") -> list[str]:
        gr = ((self.results.get("metrics") or {}).get("groupings") or {}).get(grouping) or {}
        return list(gr.get("variants") or {})

    def metric_names(self) -> list[str]:
        frame = self.audit.metrics(self.groupings()[0], "clean")
        return [c for c in frame.columns if c not in ("status", "n") and not c.endswith("_ci_low")
                and not c.endswith("_ci_high")]

    def higher_is_better(self, metric: str) -> bool:
        info = ((self.results.get("metrics") or {}).get("settings") or {}).get("metric_info") or {}
        return bool((info.get(metric) or {}).get("higher_is_better", True))

    def table(self, grouping: str, variant: str, metrics: list[str]) -> pd.DataFrame:
        """Per-group metrics as text, ``value [low, high]``, with ``n`` and whether the group is
        large enough to judge (an estimate of a group too small keeps its interval and the mark)."""
        frame = self.audit.metrics(grouping, variant)
        why = frame.attrs.get("reasons", {})
        out = pd.DataFrame(index=frame.index)
        out["n"] = frame["n"]
        out["judged"] = ["yes" if s == "ok" else "too small to judge" for s in frame["status"]]
        for m in metrics:
            if m in frame.columns:
                out[m] = [_with_ci(row, m, why.get(name, {}).get(m))
                          for name, row in frame.iterrows()]
        return out

    def worst_cells(self, metric: str, *, grouping: str = "group", k: int = 5) -> list[Cell]:
        """The ``k`` judged cells (group x variant, ``overall`` left out) with the worst value of
        ``metric``: lowest where higher is better, highest otherwise; ties by name."""
        cells = []
        for variant in self.variants(grouping):
            frame = self.audit.metrics(grouping, variant)
            if metric not in frame.columns:
                continue
            for name, row in frame.drop(index="overall", errors="ignore").iterrows():
                value = row[metric]
                if row["status"] != "ok" or not np.isfinite(value):
                    continue
                cells.append(Cell(grouping, str(name), variant, metric, float(value),
                                  float(row[f"{metric}_ci_low"]), float(row[f"{metric}_ci_high"]),
                                  int(row["n"])))
        sign = 1.0 if self.higher_is_better(metric) else -1.0
        cells.sort(key=lambda c: (sign * c.value, c.variant, c.group))
        return cells[:k]

    # -- the images behind a cell -----------------------------------------------------------------

    def overall_cell(self, metric: str, *, grouping: str = "group",
                     variant: str = "clean") -> Cell:
        """Every image of the run under ``variant`` (the ``overall`` row), as a cell."""
        row = self.audit.metrics(grouping, variant).loc["overall"]
        pick = (lambda col: float(row[col]) if col in row.index else math.nan)
        return Cell(grouping, "overall", variant, metric, pick(metric), pick(f"{metric}_ci_low"),
                    pick(f"{metric}_ci_high"), int(row["n"]))

    def _members(self, grouping: str, group: str) -> pd.DataFrame:
        if group == "overall":
            return self.samples
        if grouping not in self.samples.columns:
            return self.samples.iloc[0:0]
        labels = np.array([group_label(x) for x in self.samples[grouping].tolist()], dtype=object)
        return self.samples[labels == group]

    def _p(self, frame: pd.DataFrame, variant: str) -> np.ndarray:
        col = "p" if variant == "clean" else variant_column(variant)
        if col not in frame.columns:
            raise UserError(f"variant {variant!r}: samples.csv has no column {col}")
        return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)

    def misclassified(self, *, grouping: str, group: str, variant: str,
                      k: int = IMAGES_PER_LIST) -> pd.DataFrame:
        """The group's images whose predicted class under ``variant`` is not their label, the most
        confidently wrong first: ``file``, ``label``, ``p``, ``p_variant``."""
        frame = self._members(grouping, group)
        p = self._p(frame, variant)
        if not self.positive_class:  # a K-class run: the top class (pred, pred[<variant>])
            col = "pred" if variant == "clean" else f"pred[{variant}]"
            if col not in frame.columns:
                raise UserError(f"variant {variant!r}: samples.csv has no column {col}")
            wrong = np.isfinite(p) & (frame[col].astype(str) != frame["label"].astype(str)).to_numpy()
            margin = p  # the wrong top class's probability: the most confident first
        else:
            positive = (frame["label"].astype(str) == self.positive_class).to_numpy()
            wrong = np.isfinite(p) & ((p >= self.threshold) != positive)
            margin = np.abs(p - self.threshold)
        out = frame.assign(p_variant=p, _margin=margin)[wrong]
        return out.sort_values(["_margin", "file"], ascending=[False, True]).head(k)[
            ["file", "label", "p", "p_variant"]].reset_index(drop=True)

    def largest_shift(self, *, grouping: str, group: str, variant: str,
                      k: int = IMAGES_PER_LIST) -> pd.DataFrame:
        """The group's images whose probability ``variant`` moved the most: ``file``, ``label``,
        ``p``, ``p_variant``, ``delta_p`` (largest ``|delta_p|`` first)."""
        frame = self._members(grouping, group)
        p = self._p(frame, variant)
        delta = p - pd.to_numeric(frame["p"], errors="coerce").to_numpy(dtype=float)
        out = frame.assign(p_variant=p, delta_p=delta, _size=np.abs(delta))
        out = out[np.isfinite(out["_size"])]
        return out.sort_values(["_size", "file"], ascending=[False, True]).head(k)[
            ["file", "label", "p", "p_variant", "delta_p"]].reset_index(drop=True)

    def image_path(self, file: str) -> Path:
        """Where an image of the run is (under the dataset's root); UserError when it is not
        there or would leave the root."""
        root = self.data_root.resolve()
        path = (root / file).resolve()
        if not path.is_relative_to(root):
            raise UserError(f"{file}: leaves the run's data folder {root}")
        if not path.is_file():
            raise UserError(f"{file}: not found under the run's data folder {root}; the images "
                            "must stay where the audit read them")
        return path

    def row(self, file: str) -> dict:
        """``samples.csv``'s row of one image (empty when the run has none)."""
        found = self.samples[self.samples["file"].astype(str) == file]
        return {} if found.empty else found.iloc[0].to_dict()


def _with_ci(row: pd.Series, metric: str, reason: str | None) -> str:
    value, lo, hi = row[metric], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
    if not np.isfinite(value):
        return f"undefined ({reason})" if reason else "undefined"
    ci = f" [{lo:.3f}, {hi:.3f}]" if np.isfinite(lo) and np.isfinite(hi) else ""
    return f"{value:.3f}{ci}"
