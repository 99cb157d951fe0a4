"""Named ways of binning ITA into skin-tone groups, each with its source.

A scheme is an ordered list of groups from light to dark with the ITA cut points between them
(degrees, decreasing). A value equal to a cut point falls into the darker group, as in the
sources ("light: 41° < ITA ≤ 55°"). Every scheme also has the group ``unknown`` (listed last),
used when the image does not show enough healthy skin to judge.

``fitzpatrick`` is the one scheme whose cut points are fitted rather than published: they come
from ``configs/skin_tone.yaml`` (fitted on Fitzpatrick17k, see ``subgroups.calibrate``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.errors import UserError

__all__ = [
    "FITZPATRICK_TYPES",
    "UNKNOWN",
    "Scheme",
    "all_schemes",
    "bin_ita",
    "get_scheme",
    "group_order",
]

UNKNOWN = "unknown"
FITZPATRICK_TYPES = ("I", "II", "III", "IV", "V", "VI")


@dataclass(frozen=True)
class Scheme:
    """An ordered ITA binning: ``groups`` light -> dark, ``cuts`` decreasing (len(groups) - 1)."""

    name: str
    groups: tuple[str, ...]
    cuts: tuple[float, ...]
    source: str

    def __post_init__(self) -> None:
        if len(self.cuts) != len(self.groups) - 1:
            raise ValueError(f"scheme {self.name}: {len(self.groups)} groups need "
                             f"{len(self.groups) - 1} cut points, got {len(self.cuts)}")
        if any(b >= a for a, b in zip(self.cuts, self.cuts[1:])):
            raise ValueError(f"scheme {self.name}: cut points must decrease, got {self.cuts}")

    def bin(self, ita: np.ndarray) -> np.ndarray:
        """Group index (0 = lightest) of each ITA; -1 for NaN (unknown)."""
        ita = np.asarray(ita, dtype=np.float64)
        # number of cut points at or above the value = index of its group
        idx = (ita[..., None] <= np.asarray(self.cuts)).sum(-1)
        return np.where(np.isnan(ita), -1, idx)

    def labels(self, ita: np.ndarray) -> np.ndarray:
        """Group name of each ITA (``unknown`` for NaN), as an object array."""
        idx = self.bin(ita)
        names = np.asarray(self.groups + (UNKNOWN,), dtype=object)
        return names[np.where(idx < 0, len(self.groups), idx)]

    def to_dict(self) -> dict:
        return {"name": self.name, "groups": list(self.groups), "cuts": [float(c) for c in self.cuts],
                "source": self.source}


CHARDON6 = Scheme(
    name="chardon6",
    groups=("very_light", "light", "intermediate", "tan", "brown", "dark"),
    cuts=(55.0, 41.0, 28.0, 10.0, -30.0),
    source="Chardon et al. 1991, Int J Cosmet Sci 13:191; Del Bino et al. 2006, "
           "Pigment Cell Res 19:606 (brown/dark split at -30)",
)

COARSE3 = Scheme(
    name="coarse3",
    groups=("light", "medium", "dark"),
    cuts=(41.0, 10.0),
    source="Chardon/Del Bino bands merged for small datasets: very light + light (> 41), "
           "intermediate + tan (10 to 41), brown + dark (<= 10)",
)

KINYANJUI8 = Scheme(
    name="kinyanjui8",
    groups=("very_light", "light2", "light1", "intermediate2", "intermediate1", "tan2", "tan1",
            "dark"),
    cuts=(55.0, 48.0, 41.0, 34.5, 28.0, 19.0, 10.0),
    source="Kinyanjui et al. 2019, 'Estimating skin tone and effects on classification "
           "performance in dermatology datasets', arXiv:1910.13268, Table 1",
)


def _fitzpatrick_scheme() -> Scheme:
    from subgroups.config import load_config

    cfg = load_config()  # cached
    return Scheme(name="fitzpatrick", groups=FITZPATRICK_TYPES, cuts=tuple(cfg.ita_cuts),
                  source=cfg.ita_cuts_source)


_PUBLISHED = {"chardon6": CHARDON6, "coarse3": COARSE3, "kinyanjui8": KINYANJUI8}
_NAMES = ("chardon6", "coarse3", "kinyanjui8", "fitzpatrick")


def all_schemes() -> dict[str, Scheme]:
    """Every named scheme; the fitted ``fitzpatrick`` one is read from the config (cached)."""
    return {**_PUBLISHED, "fitzpatrick": _fitzpatrick_scheme()}


def __getattr__(name: str):
    # ``SCHEMES`` is built on first use, so that importing the package never needs the config
    if name == "SCHEMES":
        return all_schemes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_scheme(scheme: str) -> Scheme:
    """The named scheme; ``UserError`` for an unknown name."""
    if scheme not in _NAMES:
        raise UserError(f"--scheme: unknown skin-tone scheme {scheme!r}; "
                        f"choose one of {', '.join(_NAMES)}")
    return _PUBLISHED[scheme] if scheme in _PUBLISHED else _fitzpatrick_scheme()


def group_order(scheme: str) -> list[str]:
    """Group names of ``scheme`` from light to dark, then ``unknown``."""
    return list(get_scheme(scheme).groups) + [UNKNOWN]


def bin_ita(ita: np.ndarray, scheme: str) -> np.ndarray:
    """Group name of each ITA under ``scheme`` (``unknown`` for NaN)."""
    return get_scheme(scheme).labels(ita)
