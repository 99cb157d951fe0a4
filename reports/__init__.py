"""The audit report: one self-contained HTML file, a markdown summary and a model card, rendered
from a run directory's ``results.json``, ``samples.csv`` and ``thumbs/``.

``render_report(run_dir)`` writes ``report.html``, ``summary.md`` and ``model_card.md``;
``save_thumbnail(run_dir, key, image)`` is what the pipeline calls to leave pictures for it.
"""
from __future__ import annotations

from reports.assets import save_thumbnail

__all__ = ["render_report", "report_size", "save_thumbnail"]


def __getattr__(name: str):
    # Rendering pulls in Jinja2 and matplotlib; saving thumbnails during a run needs neither.
    if name in ("render_report", "report_size"):
        from reports import render

        return getattr(render, name)
    raise AttributeError(f"module 'reports' has no attribute {name!r}")
