"""One audit as one object: what its run directory holds, in memory, with cheap accessors.

:class:`Audit` holds ``results.json`` (as :attr:`Audit.results`), ``samples.csv`` (as
:attr:`Audit.samples`, and its bytes) and the report's thumbnails, so that it outlives the folder
it was read from. Every accessor reads only these, like the report and ``harness gate``: no model,
no TensorFlow. ``harness.audit(...)`` and ``harness.load_run(...)`` return one.
"""
from __future__ import annotations

import html
import io
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import UserError
from harness.gates.evaluate import evaluate_gates, write_junit
from harness.gates.given import gate_list
from harness.results.io import (RESULTS_FILE, SAMPLES_FILE, atomic_write_bytes, read_results,
                                read_samples, write_results)
from reports.assets import THUMBS_DIR

REPORT_FILE = "report.html"
#: The headline metrics of ``_repr_html_`` and the CLI's last lines.
HEADLINE = ("accuracy", "balanced_accuracy", "roc_auc")


class Audit:
    """The findings of one audit (schema in docs/results-schema.md).

    Attributes
    ----------
    results : dict
        Exactly what ``results.json`` holds.
    samples : DataFrame
        ``samples.csv``, one row per image, with the dtypes reading the file gives.
    run_dir : Path or None
        The run directory it was written to or read from; None for an audit run with
        ``out=None`` (nothing written).
    """

    def __init__(self, *, results: dict, samples_csv: bytes, thumbnails: dict[str, bytes],
                 run_dir: Path | None):
        self.results = results
        self.samples = _parse_samples(samples_csv)
        self.run_dir = run_dir
        self._samples_csv = samples_csv
        self._thumbnails = dict(thumbnails)

    @classmethod
    def read(cls, run_dir: str | Path, *, keep_path: bool = True) -> "Audit":
        """Everything an audit wrote into ``run_dir`` (``keep_path`` False: forget the folder,
        e.g. a temporary one about to be removed)."""
        run = Path(run_dir)
        results = read_results(run)
        read_samples(run)  # the one check that samples.csv is there (UserError naming it)
        thumbs = run / THUMBS_DIR
        pictures = {p.relative_to(thumbs).as_posix(): p.read_bytes()
                    for p in sorted(thumbs.rglob("*.jpg"))} if thumbs.is_dir() else {}
        return cls(results=results, samples_csv=(run / SAMPLES_FILE).read_bytes(),
                   thumbnails=pictures, run_dir=run if keep_path else None)

    def __repr__(self) -> str:
        where = f", run_dir={str(self.run_dir)!r}" if self.run_dir is not None else ""
        return (f"Audit(model={self.model_name!r}, n_images={self.n_images}{where})")

    # -- what it is ---------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        model = self.results.get("model") or {}
        return str(model.get("name") or model.get("path") or "model")

    @property
    def n_images(self) -> int:
        return int((self.results.get("dataset") or {}).get("n_images") or len(self.samples))

    @property
    def passed(self) -> bool:
        """False when a gate of the audit failed (True without gates)."""
        return bool((self.results.get("gates") or {}).get("passed", True))

    # -- accessors ----------------------------------------------------------------------------

    def metrics(self, grouping: str = "group", variant: str = "clean") -> pd.DataFrame:
        """Every metric of one grouping and variant, with its interval.

        Parameters
        ----------
        grouping : str
            ``"group"`` (the estimated skin tone), or a label grouping such as ``"fitzpatrick"``.
        variant : str
            ``"clean"`` or a perturbed variant such as ``"blur@3"``.

        Returns
        -------
        DataFrame
            Indexed by ``overall`` then every group (in the grouping's order); columns ``status``
            (``ok`` or ``insufficient``), ``n``, and ``<metric>``, ``<metric>_ci_low``,
            ``<metric>_ci_high`` for every metric. A group too small to judge keeps its
            estimates and intervals with ``status`` ``insufficient`` (why: ``"cell"`` in the
            reasons); a value that is undefined (a precision without predicted positives) is
            NaN. Why is in ``frame.attrs["reasons"]`` (``{row: {metric: reason}}``, ``"cell"``
            for the whole row) and :meth:`reasons`.
        """
        cells, order, names = self._cells(grouping, variant)
        rows, reasons = {}, {}
        for name in order:
            cell = cells[name]
            row: dict[str, Any] = {"status": cell.get("status"), "n": _number(cell.get("n"))}
            why: dict[str, str] = {}
            if cell.get("status") != "ok":
                why["cell"] = str(cell.get("reason") or cell.get("status"))
            for metric in names:
                entry = (cell.get("metrics") or {}).get(metric) or {}
                ci = entry.get("ci") if isinstance(entry.get("ci"), list) else [None, None]
                row[metric] = _number(entry.get("value"))
                row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = _number(ci[0]), _number(ci[1])
                if entry.get("reason"):
                    why[metric] = str(entry["reason"])
            rows[name] = row
            if why:
                reasons[name] = why
        columns = ["status", "n"] + [f"{m}{s}" for m in names for s in ("", "_ci_low", "_ci_high")]
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
        if frame["n"].notna().all():  # every cell keeps its n, judged or not
            frame["n"] = frame["n"].astype("int64")
        frame.index.name = grouping
        frame.attrs["reasons"] = reasons
        return frame

    def class_metrics(self, grouping: str = "group", variant: str = "clean") -> pd.DataFrame:
        """A K-class audit's per-class metrics of one grouping and variant, with intervals.

        Returns
        -------
        DataFrame
            Indexed by (row, class): ``overall`` then every group, each class in
            ``class_names`` order; columns ``status`` (``ok``, or why the class is too few in
            that cell to judge), ``support`` (images of the class), ``predicted`` (images
            predicted as it), and ``recall``, ``precision``, ``f1``, ``roc_auc`` (one-vs-rest),
            each with ``_ci_low`` / ``_ci_high``. A class too few to judge keeps its estimates
            and intervals beside its status.

        Raises
        ------
        UserError
            The audit is binary (no per-class metrics), or ``grouping`` / ``variant`` unknown.
        """
        cells, order, _ = self._cells(grouping, variant)
        names = list((self.results.get("metrics") or {}).get("class_names") or [])
        if not any(cells[r].get("classes") for r in order) or not names:
            raise UserError("class_metrics: this is a binary audit (no per-class metrics); "
                            "use metrics(), or audit a K-class model without --positive-class")
        measures = ("recall", "precision", "f1", "roc_auc")
        rows = {}
        for row in order:
            classes = cells[row].get("classes") or {}
            for name in names:
                entry = classes.get(name) or {}
                out: dict[str, Any] = {"status": entry.get("status") or entry.get("reason"),
                                       "support": _number(entry.get("support")),
                                       "predicted": _number(entry.get("predicted"))}
                for m in measures:
                    value = entry.get(m) or {}
                    ci = value.get("ci") if isinstance(value.get("ci"), list) else [None, None]
                    out[m] = _number(value.get("value"))
                    out[f"{m}_ci_low"], out[f"{m}_ci_high"] = _number(ci[0]), _number(ci[1])
                rows[(row, name)] = out
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index = pd.MultiIndex.from_tuples(frame.index, names=[grouping, "class"])
        for count in ("support", "predicted"):
            if frame[count].notna().all():
                frame[count] = frame[count].astype("int64")
        return frame

    def confusion_matrix(self, grouping: str = "group", variant: str = "clean",
                         group: str = "overall") -> pd.DataFrame:
        """The confusion matrix of one cell: rows the true class, columns the predicted class
        (``class_names`` order; a binary audit's negative class then its positive class), counts
        of images.

        Raises
        ------
        UserError
            ``grouping``, ``variant`` or ``group`` is not one of this audit's.
        """
        cells, order, _ = self._cells(grouping, variant)
        if group not in cells:
            raise UserError(f"group={group!r}: not a group of {grouping}; use one of "
                            f"{', '.join(map(repr, order))}")
        matrix = cells[group].get("confusion_matrix")
        names = list((self.results.get("metrics") or {}).get("class_names") or [])
        if not names:  # a binary cell: [[tn, fp], [fn, tp]]
            model = self.results.get("model") or {}
            pos = str(model.get("positive_class"))
            negatives = [str(c) for c in model.get("class_names") or [] if c != pos]
            names = [negatives[0] if len(negatives) == 1 else f"not {pos}", pos]
        if not isinstance(matrix, list) or len(names) != len(matrix):
            raise UserError(f"confusion_matrix: results.json has no confusion matrix for "
                            f"{grouping}/{variant}/{group}")
        frame = pd.DataFrame(matrix, index=pd.Index(names, name="true"),
                             columns=pd.Index(names, name="predicted"))
        return frame

    def reasons(self, grouping: str = "group", variant: str = "clean") -> pd.DataFrame:
        """Why values of :meth:`metrics` are undefined or noted: same rows, one column per metric
        plus ``cell``; None where there is nothing to say."""
        _, order, names = self._cells(grouping, variant)
        found = self.metrics(grouping, variant).attrs["reasons"]
        columns = ["cell", *names]
        rows = {row: {key: found.get(row, {}).get(key) for key in columns} for row in order}
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns, dtype=object)
        frame.index.name = grouping
        return frame

    def gates(self, gates: Any, *, strict: bool = False) -> dict:
        """Judge ``gates`` (a gate file, or a list of gates as the file's ``gates:`` list holds
        them) on these results alone, as ``harness gate`` does; returns the gates section
        (``passed``, ``counts``, ``verdicts``). Does not change :attr:`results`."""
        return evaluate_gates(self.results, gate_list(gates), strict=strict)

    # -- files --------------------------------------------------------------------------------

    def save(self, out_dir: str | Path) -> Path:
        """Write the run directory: ``results.json``, ``samples.csv``, the thumbnails,
        ``junit.xml`` when the audit judged gates, and the rendered ``report.html``,
        ``summary.md`` and ``model_card.md``. Returns the folder."""
        from reports.render import render_report  # Jinja2 and matplotlib, only when writing

        out = Path(out_dir)
        self._write_tables(out)
        if self.results.get("gates"):
            write_junit(self.results["gates"], out / "junit.xml")
        render_report(out, results=self.results)
        return out

    def report(self, path: str | Path | None = None) -> Path:
        """Render ``report.html`` (self-contained) and return its path.

        ``path``: the file to write, or a folder to write ``report.html`` into; None re-renders
        the report of :attr:`run_dir` in place (with its ``summary.md`` and ``model_card.md``).
        """
        from reports.render import render_report  # Jinja2 and matplotlib, only when writing

        if path is None:
            if self.run_dir is None:
                raise UserError("path=None: this audit was run with out=None and has no run "
                                "directory; pass a path, e.g. audit.report('report.html')")
            return render_report(self.run_dir, results=self.results)
        target = Path(path)
        if target.is_dir() or not target.suffix:
            target = target / REPORT_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="dermatrace-report-") as tmp:
            self._write_tables(Path(tmp))
            shutil.copyfile(render_report(tmp, results=self.results), target)
        return target

    def _write_tables(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        write_results(out / RESULTS_FILE, self.results)
        atomic_write_bytes(out / SAMPLES_FILE, self._samples_csv)
        for key, data in self._thumbnails.items():
            atomic_write_bytes(out / THUMBS_DIR / key, data)

    # -- notebooks ----------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        esc = html.escape
        model = self.results.get("model") or {}
        which = ("K classes: the top class is predicted" if model.get("kclass")
                 else f"positive: {esc(str(model.get('positive_class')))}")
        parts = ["<div class=\"dermatrace-audit\"><table>",
                 f"<tr><th>model</th><td>{esc(self.model_name)} ({esc(str(model.get('format')))})"
                 f"</td></tr>",
                 f"<tr><th>classes</th><td>{esc(', '.join(map(str, model.get('class_names') or [])))}"
                 f" ({which})</td></tr>",
                 f"<tr><th>images</th><td>{self.n_images}</td></tr>"]
        try:
            frame = self.metrics("group", "clean")
        except UserError:
            frame = None
        if frame is not None:
            overall = frame.loc["overall"]
            for metric in HEADLINE:
                if metric in frame.columns:
                    parts.append(f"<tr><th>{esc(metric)}</th><td>{_with_ci(overall, metric)}"
                                 "</td></tr>")
            parts.append("</table><table><tr><th>group</th><th>n</th>"
                         "<th>balanced accuracy [95% CI]</th></tr>")
            why = frame.attrs["reasons"]
            for name, row in frame.drop(index="overall").iterrows():
                shown = (_with_ci(row, "balanced_accuracy") if row["status"] == "ok"
                         else esc(why.get(name, {}).get("cell", "insufficient")))
                parts.append(f"<tr><td>{esc(str(name))}</td><td>{_int(row['n'])}</td>"
                             f"<td>{shown}</td></tr>")
        parts.append("</table>")
        g = self.results.get("gates")
        if g:
            counts = ", ".join(f"{esc(str(k))} {esc(str(v))}" for k, v in (g.get("counts") or {}).items())
            parts.append(f"<p>gates {'passed' if g.get('passed') else 'FAILED'}: {counts}</p>")
        parts.append("</div>")
        return "".join(parts)

    # -- helpers ------------------------------------------------------------------------------

    def _cells(self, grouping: str, variant: str) -> tuple[dict, list[str], list[str]]:
        """The cells of ``grouping`` x ``variant`` by row name, the row order and metric names."""
        metrics = self.results.get("metrics") or {}
        groupings = metrics.get("groupings") or {}
        if grouping not in groupings:
            raise UserError(f"grouping={grouping!r}: not a grouping of this audit; use one of "
                            f"{', '.join(map(repr, groupings)) or 'none'}")
        gr = groupings[grouping]
        variants = gr.get("variants") or {}
        if variant not in variants:
            raise UserError(f"variant={variant!r}: not a variant of this audit; use one of "
                            f"{', '.join(map(repr, variants))}")
        v = variants[variant]
        groups = [str(g) for g in gr.get("groups") or v.get("groups", {})]
        cells = {"overall": v["overall"], **{g: v["groups"][g] for g in groups}}
        names = list((metrics.get("settings") or {}).get("metric_info") or {})
        if not names:
            names = sorted({m for c in cells.values() for m in (c.get("metrics") or {})})
        return cells, ["overall", *groups], names


def _parse_samples(data: bytes) -> pd.DataFrame:
    # as harness.results.io.read_samples reads the file: empty cells are missing, nothing else
    return pd.read_csv(io.BytesIO(data), keep_default_na=False, na_values=[""])


def _number(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else math.nan


def _int(x: float) -> str:
    return "" if isinstance(x, float) and math.isnan(x) else str(int(x))


def _with_ci(row: pd.Series, metric: str) -> str:
    value, lo, hi = row[metric], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
    if math.isnan(value):
        return "undefined"
    ci = f" [{lo:.3f}, {hi:.3f}]" if not (math.isnan(lo) or math.isnan(hi)) else ""
    return f"{value:.3f}{ci}"
