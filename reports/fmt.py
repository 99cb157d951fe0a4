"""Number formatting for the report: one place decides how every number is printed.

A judged number becomes an :func:`estimate` cell (value, interval, n, or the reason it is missing);
templates print the strings these functions return and never format anything themselves.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

DASH = "—"
DIGITS = 3   # metrics in [0, 1] (rates, AUC, F1, Brier, ECE), their intervals and gaps


def is_number(x: Any) -> bool:
    """True for a finite int or float (never a bool)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))


def num(x: Any, digits: int = DIGITS, *, signed: bool = False) -> str:
    """``0.81234`` -> ``"0.812"``; None/NaN -> ``"—"``; no negative zero."""
    if not is_number(x):
        return DASH
    text = f"{float(x):+.{digits}f}" if signed else f"{float(x):.{digits}f}"
    if float(text) == 0.0:
        text = f"{0.0:.{digits}f}"
    return text.replace("-", "−") if text.startswith("-") else text


def degrees(x: Any, digits: int = 1, *, missing: str = DASH) -> str:
    """An angle: ``41.23`` -> ``"41.2°"``; ``missing`` when unknown."""
    return f"{num(x, digits)}°" if is_number(x) else missing


def integer(x: Any) -> str:
    """A count: ``1234`` -> ``"1234"``; None -> ``"—"``."""
    if not is_number(x):
        return DASH
    return str(int(x))


def pct(part: Any, whole: Any, digits: int = 1) -> str:
    """``part / whole`` as a percentage (``"12.5%"``); ``"—"`` when whole is 0 or unknown."""
    if not is_number(part) or not is_number(whole) or float(whole) == 0:
        return DASH
    return f"{100.0 * float(part) / float(whole):.{digits}f}%"


def interval(ci: Any, digits: int = DIGITS, *, signed: bool = False) -> str:
    """``[lo, hi]`` -> ``"[0.770, 0.850]"``; ``""`` when there is none."""
    if not isinstance(ci, (list, tuple)) or len(ci) != 2 or not all(is_number(v) for v in ci):
        return ""
    return f"[{num(ci[0], digits, signed=signed)}, {num(ci[1], digits, signed=signed)}]"


def excludes_zero(ci: Any) -> bool:
    """True when an interval lies entirely above or below 0."""
    if not isinstance(ci, (list, tuple)) or len(ci) != 2 or not all(is_number(v) for v in ci):
        return False
    return float(ci[0]) > 0 or float(ci[1]) < 0


def level(x: Any) -> str:
    """An interval level: ``0.95`` -> ``"95%"``, ``0.999`` -> ``"99.9%"``; ``""`` when unknown."""
    if not is_number(x) or not 0 < float(x) < 1:
        return ""
    return f"{round(100.0 * float(x), 6):g}%"


#: The mark of a number from a group too small to judge (never shown without it).
TOO_FEW = "too few to judge"


def insufficient(n: Any) -> str:
    """What a group too small to judge shows when it has no estimate to show with an interval:
    ``"too few to judge (n=12)"``."""
    return f"{TOO_FEW} (n={integer(n)})"


def estimate(m: Mapping | None, *, digits: int = DIGITS, n: Any = None, signed: bool = False,
             status: str | None = None, status_n: Any = None, reason: str | None = None) -> dict:
    """A report cell from a metric value ``{"value", "ci", "n", "reason", ...}``.

    Returns ``{"kind": "ok" | "insufficient" | "undefined" | "missing", "value", "ci", "n",
    "mark", "note", "raw"}``; every field is a string except ``raw`` (the float, for plots and
    tests; None unless the number is judged).

    ``status="insufficient"`` (the cell's status: too few images to judge) keeps the estimate
    only together with its interval and the mark :data:`TOO_FEW`; without an interval (or a
    value) the cell says ``"too few to judge (n=...)"`` instead, never a bare number. ``reason``
    (the cell's) becomes the note.
    """
    if status == "insufficient":
        value = m.get("value") if isinstance(m, Mapping) else None
        ci = interval(m.get("ci"), digits, signed=signed) if isinstance(m, Mapping) else ""
        if not is_number(value) or not ci:
            return {"kind": "insufficient", "value": insufficient(status_n), "ci": "", "n": "",
                    "mark": "", "note": reason or "", "raw": None}
        count = m.get("n", n)
        return {"kind": "insufficient", "value": num(value, digits, signed=signed), "ci": ci,
                "n": f"n={integer(count)}" if is_number(count) else "", "mark": TOO_FEW,
                "note": reason or "", "raw": None}
    if not isinstance(m, Mapping):
        return {"kind": "missing", "value": DASH, "ci": "", "n": "", "mark": "",
                "note": reason or "not computed", "raw": None}
    count = m.get("n", n)
    value = m.get("value")
    note = m.get("reason") or ""
    if not is_number(value):
        return {"kind": "undefined", "value": "undefined", "ci": "",
                "n": f"n={integer(count)}" if is_number(count) else "", "mark": "",
                "note": note or "undefined", "raw": None}
    return {"kind": "ok", "value": num(value, digits, signed=signed),
            "ci": interval(m.get("ci"), digits, signed=signed),
            "n": f"n={integer(count)}" if is_number(count) else "", "mark": "", "note": note,
            "raw": float(value)}


def short_hash(h: Any, length: int = 12) -> str:
    """The first ``length`` hex digits of a hash, without its ``sha256:`` prefix; a dash when none."""
    s = str(h or "")
    for prefix in ("sha256:", "sha256-"):
        if s.startswith(prefix):
            s = s[len(prefix):]
    return s[:length] if s else DASH


def human_size(n_bytes: int) -> str:
    """``2_400_000`` -> ``"2.3 MB"`` (binary units, as file managers show)."""
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def params(d: Any, digits: int = 3) -> str:
    """``{"L_factor": 0.8, "sigma": 2}`` -> ``"L_factor=0.8, sigma=2"`` (for requested parameters)."""
    if not isinstance(d, Mapping) or not d:
        return DASH
    parts = []
    for k, v in d.items():
        if isinstance(v, (dict, list, tuple)):
            continue   # structured values are not parameters to print
        if isinstance(v, bool) or not is_number(v):
            parts.append(f"{k}={v}")
        elif float(v).is_integer():
            parts.append(f"{k}={int(v)}")
        else:
            parts.append(f"{k}={float(v):.{digits}g}")
    return ", ".join(parts) or DASH
