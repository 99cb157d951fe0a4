"""Markdown from the report's view model: ``summary.md`` (a pull request or ``$GITHUB_STEP_SUMMARY``)
and ``model_card.md``.

The same view model as the HTML report, so the numbers are the same strings. Every printed value
passes through :func:`md_escape`, the markdown counterpart of HTML autoescaping: a file or class
name cannot open a link, a table cell, an HTML tag or a heading.
"""
from __future__ import annotations

import re
from typing import Any

import jinja2

# Characters that start emphasis, code, tables or strike-through; "<" and ">" become entities, and
# a "]" that would close a link text ("](" or "][") is escaped, so "[0.1, 0.2]" stays readable.
_MD_SPECIAL = re.compile(r"([\\`*_|~])")
_MD_LINK = re.compile(r"\](?=[(\[])")


def md_escape(value: Any) -> str:
    """Escape ``value`` for GitHub-flavoured markdown (inline text and table cells)."""
    if value is None or isinstance(value, jinja2.Undefined):
        return ""
    s = str(value)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    s = _MD_LINK.sub(r"\\]", s)
    s = s.replace("\r", " ").replace("\n", " ")
    return s


_ENV: jinja2.Environment | None = None


def environment() -> jinja2.Environment:
    """Markdown templates: no HTML autoescape, :func:`md_escape` on every printed value."""
    global _ENV
    if _ENV is None:
        _ENV = jinja2.Environment(
            loader=jinja2.PackageLoader("reports", "templates"),
            autoescape=False,
            finalize=md_escape,
            undefined=jinja2.ChainableUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
    return _ENV


def render_summary(view: dict) -> str:
    """``summary.md``: gate verdicts, headline numbers and gaps, findings."""
    return environment().get_template("summary.md").render(**view)


def render_model_card(view: dict) -> str:
    """``model_card.md``: model details, evaluation data, performance by group, robustness, limits."""
    return environment().get_template("model_card.md").render(**view)
