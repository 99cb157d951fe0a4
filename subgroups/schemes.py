"""Named ways of binning ITA into skin-tone groups, each with its source.

A scheme is an ordered list of groups from light to dark with the ITA cut points between them
(degrees, decreasing). A value equal to a cut point falls into the darker group, as in the
sources ("light: 41° < ITA ≤ 55°"). Every scheme also has the group ``unknown`` (listed last),
used when the image does not show enough healthy skin to judge.

``fitzpatrick`` is the one scheme whose cut points are fitted rather than published: they come
from the skin-tone settings (``configs/skin_tone.yaml``, fitted on Fitzpatrick17k, see
``subgroups.calibrate``), which the caller passes as ``settings``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.errors import UserError
from subgroups.settings import SkinToneConfig

__all__ = [
    "FITZPATRICK_TYPES",
    "SCHEME_NAMES",
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


def _fitzpatrick_scheme(settings: SkinToneConfig | None) -> Scheme:
    if settings is None:
        raise ValueError("scheme 'fitzpatrick': its cut points are fitted; pass settings= (the "
                         "skin-tone settings, e.g. subgroups.load_config())")
    return Scheme(name="fitzpatrick", groups=FITZPATRICK_TYPES, cuts=tuple(settings.ita_cuts),
                  source=settings.ita_cuts_source)


_PUBLISHED = {"chardon6": CHARDON6, "coarse3": COARSE3, "kinyanjui8": KINYANJUI8}
#: Every scheme's name: the published ones, then the fitted ``fitzpatrick``.
SCHEME_NAMES = ("chardon6", "coarse3", "kinyanjui8", "fitzpatrick")


def all_schemes(*, settings: SkinToneConfig) -> dict[str, Scheme]:
    """Every named scheme; the fitted ``fitzpatrick`` one from ``settings``."""
    return {**_PUBLISHED, "fitzpatrick": _fitzpatrick_scheme(settings)}


def _check_name(scheme: str) -> None:
    if scheme not in SCHEME_NAMES:
        raise UserError(f"--scheme: unknown skin-tone scheme {scheme!r}; "
                        f"choose one of {', '.join(SCHEME_NAMES)}")


def get_scheme(scheme: str, *, settings: SkinToneConfig | None = None) -> Scheme:
    """The named scheme; ``UserError`` for an unknown name. ``fitzpatrick`` needs ``settings``
    (its cut points are fitted); the published schemes do not."""
    _check_name(scheme)
    return _PUBLISHED[scheme] if scheme in _PUBLISHED else _fitzpatrick_scheme(settings)


def group_order(scheme: str) -> list[str]:
    """Group names of ``scheme`` from light to dark, then ``unknown``."""
    _check_name(scheme)
    groups = _PUBLISHED[scheme].groups if scheme in _PUBLISHED else FITZPATRICK_TYPES
    return list(groups) + [UNKNOWN]


def bin_ita(ita: np.ndarray, scheme: str, *, settings: SkinToneConfig | None = None) -> np.ndarray:
    """Group name of each ITA under ``scheme`` (``unknown`` for NaN); ``settings`` as for
    :func:`get_scheme`."""
    return get_scheme(scheme, settings=settings).labels(ita)
