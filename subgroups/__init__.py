"""Skin tone from the image: a healthy-skin mask, ITA over it, named binning schemes, a
Fitzpatrick estimate, and agreement with labelled skin types.

Public API::

    skin_mask(image) -> (H, W) bool          lesion_mask(image) -> (H, W) bool
    estimate_skin_tone(images, *, scheme="chardon6", progress=False) -> DataFrame
    group_order(scheme) -> list[str]         get_scheme(scheme) -> Scheme
    label_agreement(estimated, labels) -> dict
    SCHEMES: dict[str, Scheme]               MASK_VERSION: str
"""
from __future__ import annotations

from subgroups.agreement import label_agreement
from subgroups.config import load_config
from subgroups.ita import estimate_skin_tone, measure_image
from subgroups.mask import lesion_mask, skin_mask
from subgroups.schemes import (
    UNKNOWN,
    Scheme,
    all_schemes,
    bin_ita,
    get_scheme,
    group_order,
)

__all__ = [
    "MASK_VERSION",
    "SCHEMES",
    "UNKNOWN",
    "Scheme",
    "all_schemes",
    "bin_ita",
    "estimate_skin_tone",
    "get_scheme",
    "group_order",
    "label_agreement",
    "lesion_mask",
    "load_config",
    "measure_image",
    "skin_mask",
]


def _mask_version() -> str:
    import hashlib
    import json
    from dataclasses import asdict

    params = json.dumps(asdict(load_config().mask), sort_keys=True)
    return "skinmask-2-" + hashlib.sha256(params.encode()).hexdigest()[:12]


def __getattr__(name: str):
    # Built on first use (they read configs/skin_tone.yaml), so that importing the package, e.g.
    # to regenerate that file, never depends on it.
    if name == "SCHEMES":
        return all_schemes()
    if name == "MASK_VERSION":
        return _mask_version()  # changes whenever the fitted mask parameters change
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
