"""Names of the audit's variants: ``"clean"`` and ``"<family>@<severity>"`` (``"blur@3"``).

Plain Python, no third-party import: the gate command reads variant names without loading numpy's
neighbours or TensorFlow.
"""
from __future__ import annotations

__all__ = ["families_of", "split_variant"]


def split_variant(name: str) -> tuple[str, int | float] | None:
    """``"blur@3"`` -> ``("blur", 3)``; None for ``"clean"`` or a name without a numeric severity."""
    family, sep, sev = name.rpartition("@")
    if not sep or not family:
        return None
    try:
        s = float(sev)
    except ValueError:
        return None
    return family, int(s) if s.is_integer() else s


def families_of(variants: list[str]) -> dict[str, list]:
    """family -> sorted severities, over the variant names that carry one."""
    out: dict[str, list] = {}
    for v in variants:
        fs = split_variant(v)
        if fs is not None:
            out.setdefault(fs[0], []).append(fs[1])
    return {f: sorted(s) for f, s in out.items()}
