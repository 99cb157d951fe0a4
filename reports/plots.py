"""Plots for the report: matplotlib (object API and its SVG backend, no pyplot state) to data URIs.

Every function takes plain lists prepared by the views (:mod:`reports.views`) and returns a
``data:image/svg+xml;base64,...`` URI that the template puts into an ``<img>``: an image loaded that
way cannot run anything, whatever text it holds, and prints sharply. Output bytes are stable: the
SVG hash salt is fixed and no date is written.
"""
from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import matplotlib
from matplotlib.figure import Figure  # the object API: no pyplot, no global figure state
from matplotlib.ticker import MaxNLocator

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
           "#999999")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h")
_RC = {
    "svg.hashsalt": "dermatrace",
    "svg.fonttype": "none",   # text as outlines: no font needed where the report is read
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.6,
    "axes.edgecolor": "#888888",
    "path.simplify": True,
}


def plain_text(text: object) -> str:
    """A user string made safe for matplotlib: no mathtext, no legend-hiding leading underscore."""
    s = str(text).replace("\\", "\\\\").replace("$", r"\$")
    if s.startswith("_"):
        s = " " + s
    return s[:60]


def style(index: int) -> dict:
    """Colour and marker of series ``index`` (also used for the HTML legend chips)."""
    return {"color": PALETTE[index % len(PALETTE)], "marker": MARKERS[index % len(MARKERS)]}


def _to_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_RC):
        return Figure(figsize=(width, height), dpi=100)


def _margins(fig: Figure, *, left: float = 0.62, right: float = 0.15, bottom: float = 0.5,
             top: float = 0.3, wspace: float = 0.55, hspace: float = 0.6, cols: int = 1,
             rows: int = 1) -> None:
    """Fixed margins in inches (a layout engine would draw every figure twice)."""
    w, h = fig.get_size_inches()
    panel_w = (w - left - right) / cols
    panel_h = (h - top - bottom) / rows
    fig.subplots_adjust(left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h,
                        wspace=wspace / max(panel_w - wspace, 0.1), hspace=hspace / max(panel_h - hspace, 0.1))


def _finite(values: Sequence) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _grid(n: int, max_cols: int) -> tuple[int, int]:
    cols = max(1, min(max_cols, n))
    return math.ceil(n / cols), cols


def line_panels(panels: Sequence[dict], *, xlabel: str, ylabel: str, ylim: tuple | None = None,
                xticks: Sequence | None = None, xticklabels: Sequence | None = None,
                vline: float | None = None, vline_label: str | None = None, max_cols: int = 3,
                panel_size: tuple[float, float] = (3.1, 2.3), markers: bool = True) -> str:
    """Small multiples: one panel per entry, a line (and its interval band) per series.

    Parameters
    ----------
    panels : list of dict
        ``{"title": str, "series": [{"label": str, "style": int, "x": [...], "y": [...],
        "lo": [...] or None, "hi": [...] or None, "points": [(x, y)] or None}]}``. ``None`` values
        leave gaps.
    """
    with matplotlib.rc_context(_RC):
        rows, cols = _grid(len(panels), max_cols)
        n_labels = len({str(s["label"]) for p in panels for s in p["series"]}) + (1 if vline_label else 0)
        legend_rows = math.ceil(n_labels / 6) if n_labels else 0
        top = 0.3 + 0.22 * legend_rows
        fig = _figure(panel_size[0] * cols, panel_size[1] * rows + top - 0.3)
        axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
        _margins(fig, top=top, cols=cols, rows=rows)
        handles: dict[str, object] = {}
        for k, ax in enumerate(axes.flat):
            if k >= len(panels):
                ax.set_visible(False)
                continue
            panel = panels[k]
            for s in panel["series"]:
                st = style(s.get("style", 0))
                x = _finite(s["x"])
                y = _finite(s["y"])
                (line,) = ax.plot(x, y, color=st["color"], marker=st["marker"] if markers else None,
                                  markersize=3.5, linewidth=1.4, label=plain_text(s["label"]))
                handles.setdefault(plain_text(s["label"]), line)
                if s.get("lo") is not None and s.get("hi") is not None:
                    ax.fill_between(x, _finite(s["lo"]), _finite(s["hi"]), color=st["color"],
                                    alpha=0.14, linewidth=0)
                for px, py in s.get("points") or []:
                    ax.plot([px], [py], marker="|", markersize=12, markeredgewidth=2, color=st["color"])
            if vline is not None:
                ax.axvline(vline, color="#444444", linestyle="--", linewidth=0.9)
            ax.set_title(plain_text(panel["title"]), loc="left")
            if ylim is not None:
                ax.set_ylim(*ylim)
            if xticks is not None:
                ax.set_xticks(list(xticks))
                if xticklabels is not None:
                    ax.set_xticklabels([plain_text(t) for t in xticklabels])
            if k % cols == 0:
                ax.set_ylabel(plain_text(ylabel))
            if k >= len(panels) - cols:
                ax.set_xlabel(plain_text(xlabel))
                ax.xaxis.set_tick_params(labelbottom=True)
        if vline is not None and vline_label:
            from matplotlib.lines import Line2D

            handles[plain_text(vline_label)] = Line2D([], [], color="#444444", linestyle="--", linewidth=0.9)
        if handles:
            fig.legend(list(handles.values()), list(handles.keys()), loc="upper center",
                       bbox_to_anchor=(0.5, 1.0), ncol=min(len(handles), 6), frameon=False,
                       borderaxespad=0.2, handlelength=1.8, columnspacing=1.2)
        return _to_uri(fig)


def histogram(*, edges: Sequence[float], counts: Sequence[int], colours: Sequence[str], xlabel: str,
              ylabel: str, boundaries: Sequence[float] = (), band_labels: Sequence[str] = (),
              size: tuple[float, float] = (7.6, 2.6)) -> str:
    """Bars between ``edges`` painted in ``colours`` (one per bar), dotted lines at ``boundaries``.

    The x axis runs from high to low (light skin on the left) over the bins that hold images.
    ``band_labels`` names the bands between boundaries, from the highest band down (one more
    label than boundaries).
    """
    with matplotlib.rc_context(_RC):
        fig = _figure(*size)
        ax = fig.subplots()
        _margins(fig, top=0.3 if band_labels else 0.15)
        lefts = [float(e) for e in edges[:-1]]
        widths = [float(edges[i + 1]) - float(edges[i]) for i in range(len(edges) - 1)]
        ax.bar(lefts, [int(c) for c in counts], width=widths, align="edge", color=list(colours),
               edgecolor="#555555", linewidth=0.6)
        used = [i for i, c in enumerate(counts) if c]
        lo = float(edges[max(0, used[0] - 1)]) if used else float(edges[0])
        hi = float(edges[min(len(edges) - 1, used[-1] + 2)]) if used else float(edges[-1])
        bounds = sorted((float(b) for b in boundaries), reverse=True)
        for b in bounds:
            if lo < b < hi:
                ax.axvline(b, color="#333333", linestyle=":", linewidth=0.9)
        if band_labels and len(band_labels) == len(bounds) + 1:
            tops = [hi] + bounds
            bottoms = bounds + [lo]
            trans = ax.get_xaxis_transform()
            for name, top, bottom in zip(band_labels, tops, bottoms):
                top, bottom = min(top, hi), max(bottom, lo)
                if top > bottom:
                    ax.text((top + bottom) / 2, 1.02, plain_text(name), transform=trans, ha="center",
                            va="bottom", fontsize=7.5, color="#333333")
        ax.set_xlim(hi, lo)  # light skin (high ITA) on the left, as the groups are ordered
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(plain_text(xlabel))
        ax.set_ylabel(plain_text(ylabel))
        ax.grid(axis="x", visible=False)
        return _to_uri(fig)


def bar_groups(*, categories: Sequence[str], series: Sequence[dict], ylabel: str,
               ylim: tuple | None = None, size: tuple[float, float] = (7.0, 2.6)) -> str:
    """Grouped bars with interval whiskers: ``series`` = ``[{"label", "style", "y", "lo", "hi"}]``,
    one value per category."""
    with matplotlib.rc_context(_RC):
        fig = _figure(*size)
        ax = fig.subplots()
        _margins(fig, top=0.35 if len(series) > 1 else 0.15, bottom=0.55 if len(categories) > 6 else 0.4)
        n = max(1, len(series))
        width = 0.8 / n
        for j, s in enumerate(series):
            st = style(s.get("style", j))
            xs = [i - 0.4 + width * (j + 0.5) for i in range(len(categories))]
            y = _finite(s["y"])
            ax.bar(xs, [0 if math.isnan(v) else v for v in y], width=width * 0.92, color=st["color"],
                   label=plain_text(s["label"]))
            if s.get("lo") is not None:
                lo, hi = _finite(s["lo"]), _finite(s["hi"])

                def gap(a: float, b: float) -> float:
                    return 0.0 if math.isnan(a) or math.isnan(b) else max(0.0, b - a)

                err = [[gap(low, v) for v, low in zip(y, lo)], [gap(v, high) for v, high in zip(y, hi)]]
                ax.errorbar(xs, [0 if math.isnan(v) else v for v in y], yerr=err, fmt="none",
                            ecolor="#333333", elinewidth=0.9, capsize=2)
        ax.set_xticks(range(len(categories)))
        ax.set_xticklabels([plain_text(c) for c in categories], rotation=20 if len(categories) > 6 else 0)
        ax.set_ylabel(plain_text(ylabel))
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.grid(axis="x", visible=False)
        if len(series) > 1:
            ax.legend(frameon=False, ncol=min(len(series), 4), loc="lower center",
                      bbox_to_anchor=(0.5, 1.0), borderaxespad=0.1)
        return _to_uri(fig)
