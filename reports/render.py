"""Render a run directory into ``report.html``, ``summary.md`` and ``model_card.md``.

The report is one self-contained file: styles inline, plots and thumbnails as data URIs, a
Content-Security-Policy that forbids scripts and every load from elsewhere. Jinja2 autoescapes
every string, so a file or class name is always shown as text.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from harness.results.io import atomic_write_text, jsonable
from reports import context as ctx
from reports.assets import Thumbnails
from reports.fmt import human_size

REPORT_FILE = "report.html"
SUMMARY_FILE = "summary.md"
MODEL_CARD_FILE = "model_card.md"
COMPARE_DIR = "compare"   # where ``harness compare`` writes comparison.json by default


_ENVS: dict[bool, jinja2.Environment] = {}


def environment(*, strict: bool = False) -> jinja2.Environment:
    """The HTML template environment (autoescape on), built once.

    ``strict`` makes a name missing from the view model an error (tests); otherwise it prints
    as nothing.
    """
    if strict not in _ENVS:
        _ENVS[strict] = jinja2.Environment(
            loader=jinja2.PackageLoader("reports", "templates"),
            autoescape=True,  # every template is HTML: escape everything, whatever its extension
            undefined=jinja2.StrictUndefined if strict else jinja2.ChainableUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _ENVS[strict]


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
        comparison = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(comparison, dict):
        return None
    cand, data = comparison.get("candidate") or {}, comparison.get("dataset") or {}
    same_model = cand.get("hash") == (results.get("model") or {}).get("hash")
    same_data = data.get("fingerprint") == (results.get("dataset") or {}).get("fingerprint")
    return jsonable(comparison) if same_model and same_data else None


def build_view(run_dir: str | Path, *, results: dict | None = None, gallery_limit: int = 12,
               strip_images: int = 2, strict: bool = False) -> dict[str, Any]:
    """The view model of a run directory (see :func:`reports.context.build_context`)."""
    run = Path(run_dir)
    if results is None:
        results = _read_results(run)
    # The report sees what results.json holds: plain JSON types, no NaN.
    results = jsonable(results)
    if "comparison" not in results:
        found = _comparison_beside(run, results)
        if found is not None:
            results["comparison"] = found
    samples = _read_samples(run)
    return ctx.build_context(results, samples, Thumbnails(run), gallery_limit=gallery_limit,
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
