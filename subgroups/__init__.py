"""Skin tone from the image: a healthy-skin mask, ITA over it, named binning schemes, a
Fitzpatrick estimate, and agreement with labelled skin types.

Every function that depends on the fitted skin-tone settings takes them as ``settings``: read
them once with ``load_config()`` (the packaged ``configs/skin_tone.yaml``, or a path), or take an
audit config's ``skin_tone``. Public API::

    load_config(path=None) -> SkinToneConfig
    skin_mask(image, *, settings) -> (H, W) bool      lesion_mask(image, *, settings) -> (H, W) bool
    estimate_skin_tone(images, *, settings, scheme="chardon6", progress=False) -> DataFrame
    group_order(scheme) -> list[str]         get_scheme(scheme, *, settings=None) -> Scheme
    label_agreement(estimated, labels) -> dict
    all_schemes(*, settings) -> dict[str, Scheme]     mask_version(settings.mask) -> str
"""
from __future__ import annotations

from subgroups.agreement import label_agreement
from subgroups.config import load_config
from subgroups.ita import estimate_skin_tone, measure_image
from subgroups.mask import lesion_mask, skin_mask
from subgroups.schemes import (
    SCHEME_NAMES,
    UNKNOWN,
    Scheme,
    all_schemes,
    bin_ita,
    get_scheme,
    group_order,
)
from subgroups.settings import MaskParams, SkinToneConfig, mask_version

__all__ = [
    "SCHEME_NAMES",
    "UNKNOWN",
    "MaskParams",
    "Scheme",
    "SkinToneConfig",
    "all_schemes",
    "bin_ita",
    "estimate_skin_tone",
    "get_scheme",
    "group_order",
    "label_agreement",
    "lesion_mask",
    "load_config",
    "mask_version",
    "measure_image",
    "skin_mask",
]
