"""Render a run directory into ``report.html``, ``summary.md`` and ``model_card.md``.

The report is one self-contained file: styles inline, plots and thumbnails as data URIs, a
Content-Security-Policy that forbids scripts and every load from elsewhere. Jinja2 autoescapes
every string, so a file or class name is always shown as text.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from harness.results.io import atomic_write_text, jsonable
from reports.assets import Thumbnails
from reports.fmt import human_size
from reports.templating import environment
from reports.views import (comparison, dataset, gradcam, header, methods, misclassified, performance,
                           robustness, summary, thresholds)

REPORT_FILE = "report.html"
SUMMARY_FILE = "summary.md"
MODEL_CARD_FILE = "model_card.md"
COMPARE_DIR = "compare"   # where ``harness compare`` writes comparison.json by default

__all__ = ["build_context", "build_view", "environment", "render_html", "render_report", "report_size"]

SECTIONS = (
    ("summary", "Summary"), ("dataset", "Dataset"), ("performance", "Performance by group"),
    ("thresholds", "Thresholds"), ("robustness", "Robustness"), ("gradcam", "Heatmap drift"),
    ("misclassified", "Misclassifications"), ("comparison", "Comparison"), ("methods", "Method notes"),
)


def build_context(results: dict, samples: pd.DataFrame | None = None, thumbs: Thumbnails | None = None, *,
                  gallery_limit: int = 12, strip_images: int = 2, strict: bool = False) -> dict:
    """The report's view model, one section per view module of :mod:`reports.views`.

    Parameters
    ----------
    results : dict
        The parsed ``results.json`` (with its ``findings`` section).
    samples : DataFrame or None
        ``samples.csv`` (row i = image i); per-image pictures and facts need it.
    thumbs : Thumbnails or None
        The run's thumbnails.
    gallery_limit : int
        Most pictures per misclassification list (per group, per FP/FN).
    strip_images : int
        How many images are shown across the perturbation ladder.
    strict : bool
        Raise when a section cannot be built (tests); otherwise the section shows why it is missing.

    Returns
    -------
    dict
        ``{"header", "nav", "sections": {name: view or None}, "errors": {...}, "titles"}``,
        strings only (plus data URIs).
    """
    # Each builder is looked up on its module when called, so one section can be replaced alone.
    builders: dict[str, Callable[[], Any]] = {
        "summary": lambda: summary.summary(results),
        "dataset": lambda: dataset.dataset(results),
        "performance": lambda: performance.performance(results),
        "thresholds": lambda: thresholds.thresholds(results),
        "robustness": lambda: robustness.robustness(results, samples, thumbs, strip_images=strip_images),
        "gradcam": lambda: gradcam.gradcam(results, samples, thumbs, gallery_limit=2 * gallery_limit),
        "misclassified": lambda: misclassified.misclassified(results, samples, thumbs,
                                                             gallery_limit=gallery_limit),
        "comparison": lambda: comparison.comparison(results),
        "methods": lambda: methods.methods(results),
    }
    sections: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, build in builders.items():
        try:
            sections[key] = build()
        except Exception as exc:  # a malformed section must not take the whole report down
            if strict:
                raise
            sections[key] = None
            errors[key] = f"{type(exc).__name__}: {exc}"
    nav = [{"id": key, "title": title} for key, title in SECTIONS
           if sections.get(key) is not None or key in errors]
    return {"header": header.header(results), "nav": nav, "sections": sections, "errors": errors,
            "titles": dict(SECTIONS)}


def _read_results(run_dir: Path) -> dict:
    from harness.results.io import read_results

    return read_results(run_dir)


def _read_samples(run_dir: Path) -> pd.DataFrame | None:
    path = run_dir / "samples.csv"
    if not path.is_file():
        return None
    from harness.results.io import read_samples

    return read_samples(run_dir)


def _comparison_beside(run: Path, results: dict) -> dict | None:
    """``run/compare/comparison.json`` (where ``harness compare`` writes by default) when it compares
    this very model on these very images; None otherwise."""
    path = run / COMPARE_DIR / "comparison.json"
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    cand, data = doc.get("candidate") or {}, doc.get("dataset") or {}
    same_model = cand.get("hash") == (results.get("model") or {}).get("hash")
    same_data = data.get("fingerprint") == (results.get("dataset") or {}).get("fingerprint")
    return jsonable(doc) if same_model and same_data else None


def with_summaries(results: dict) -> dict:
    """``results`` with ``findings.what_we_found`` (:func:`harness.pipeline.headline.what_we_found`)
    and the gates' per-gate summary (:func:`harness.gates.summary.with_gate_summary`) where an
    older results.json lacks them, computed by the functions the pipeline writes them with, from
    the results alone; what the results hold is never replaced."""
    findings = results.get("findings")
    gates = results.get("gates")
    missing_found = not (isinstance(findings, dict) and "what_we_found" in findings)
    missing_gates = isinstance(gates, dict) and "by_gate" not in gates
    if not (missing_found or missing_gates):
        return results
    out = dict(results)
    if missing_found:
        from harness.pipeline.headline import what_we_found

        out["findings"] = {**(findings if isinstance(findings, dict) else {}),
                           "what_we_found": jsonable(what_we_found(results))}
    if missing_gates:
        from harness.gates.summary import with_gate_summary

        out["gates"] = with_gate_summary(gates)
    return out


def build_view(run_dir: str | Path, *, results: dict | None = None, gallery_limit: int = 12,
               strip_images: int = 2, strict: bool = False) -> dict[str, Any]:
    """The view model of a run directory (see :func:`build_context`).

    A run written before results carried ``findings`` gets them here, from the pipeline's own
    functions (``harness.pipeline.findings``), so re-rendering it shows what it showed before;
    one written before ``findings.what_we_found`` or ``gates.by_gate`` gets those the same way
    (:func:`with_summaries`).
    """
    run = Path(run_dir)
    if results is None:
        results = _read_results(run)
    samples = _read_samples(run)
    if "findings" not in results and samples is not None:
        from harness.pipeline.findings import add_findings

        results, samples = add_findings(results, samples)
    # The report sees what results.json holds: plain JSON types, no NaN.
    results = with_summaries(jsonable(results))
    if "comparison" not in results:
        found = _comparison_beside(run, results)
        if found is not None:
            results["comparison"] = found
    return build_context(results, samples, Thumbnails(run), gallery_limit=gallery_limit,
                         strip_images=strip_images, strict=strict)


def render_html(view: dict[str, Any], *, strict: bool = False) -> str:
    """The report's HTML for a view model."""
    return environment(strict=strict).get_template("report.html").render(**view)


def render_report(run_dir: str | Path, *, results: dict | None = None, gallery_limit: int = 12,
                  strip_images: int = 2, strict: bool = False) -> Path:
    """Write ``run_dir/report.html`` (plus ``summary.md`` and ``model_card.md``) and return its path.

    Parameters
    ----------
    run_dir : path
        A run directory with ``results.json``, ``samples.csv`` and ``thumbs/``.
    results : dict, optional
        The results already in memory (as written to ``results.json``); read from the run
        directory when None.
    gallery_limit : int
        Most pictures per misclassification list (per group, false positives and negatives each).
    strip_images : int
        How many images are shown across the whole perturbation ladder.
    strict : bool
        Raise when a section cannot be rendered, instead of showing why in the report.

    Returns
    -------
    Path
        ``run_dir/report.html``.
    """
    from reports.markdown import render_model_card, render_summary

    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    view = build_view(run, results=results, gallery_limit=gallery_limit, strip_images=strip_images,
                      strict=strict)
    out = run / REPORT_FILE
    atomic_write_text(out, render_html(view, strict=strict))
    atomic_write_text(run / SUMMARY_FILE, render_summary(view))
    atomic_write_text(run / MODEL_CARD_FILE, render_model_card(view))
    return out


def report_size(path: str | Path) -> str:
    """``"report.html (2.3 MB)"``: what the run prints at its end."""
    p = Path(path)
    return f"{p.name} ({human_size(p.stat().st_size)})"
