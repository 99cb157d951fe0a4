"""The perturbation ladder stage: skin and lesion masks, the perturbed images, what each variant
achieved.

:class:`RegionMasks` computes the healthy-skin and lesion masks of the clean images once, when a
stage first needs them. :class:`PerturbedImages` applies one variant of the ladder at a time
(one variant in memory). :func:`variant_record` is a variant's entry of
``results["perturbations"]["variants"]``: what was asked and what was achieved (cached by image).
"""
from __future__ import annotations

from typing import Any

import numpy as np

import perturbations
import subgroups
from harness.cache import ArrayCache
from harness.pipeline.cached import cached_fields
from harness.pipeline.timer import Timer
from harness.results.io import value_summary
from perturbations.measure import MEASURE_VERSION
from subgroups.mask import analyse_image


def variant_key(variant, *, seed: int, mask_version: str) -> str:
    """Cache key of a variant: its spec, the seed when it draws at random, and the mask
    algorithm when it acts inside the skin region."""
    parts = [variant.key()]
    if getattr(variant, "stochastic", True):
        parts.append(f"seed={seed}")
    if getattr(variant, "uses_mask", True):
        parts.append(f"mask={mask_version}")
    return "|".join(parts)


def achieved_namespace(variant, *, seed: int, mask_version: str) -> str:
    """Where a variant's achieved deltas are cached: by variant, the region they are measured
    over (always the skin mask) and the measures' formulas."""
    return (f"achieved/{variant_key(variant, seed=seed, mask_version=mask_version)}"
            f"|region={mask_version}|{MEASURE_VERSION}")


def variant_entry(variant, achieved: dict[str, np.ndarray]) -> dict[str, Any]:
    """A variant's entry of ``results["perturbations"]["variants"]``: its spec, what it asked
    for and a summary of what it achieved over the images."""
    shown = [m for m in getattr(variant, "measures", ()) if m in achieved] or sorted(achieved)
    return {
        "name": variant.name, "family": variant.family, "severity": variant.severity,
        "key": variant.key(), "requested": variant.requested,
        "achieved": {k: value_summary(achieved[k]) for k in shown},
    }


class RegionMasks:
    """Healthy-skin and lesion masks of the clean images, computed once and only when needed."""

    def __init__(self, images: np.ndarray, timer: Timer, *, skin_tone, found=None):
        self._images = images
        self._timer = timer
        self._params = skin_tone.mask  # the audit config's skin-tone settings
        self._skin: np.ndarray | None = None
        self._lesion: np.ndarray | None = None
        self._region: np.ndarray | None = None
        if found is not None:  # ``analyse_image`` of each image, already computed
            self._set(found)

    def _set(self, found) -> None:
        width, height = self._images.shape[2], self._images.shape[1]
        empty = np.zeros((0, height, width), dtype=bool)
        self._skin = np.stack([r.skin for r in found]) if found else empty
        self._lesion = np.stack([r.lesion for r in found]) if found else empty
        self._region = self._skin | self._lesion

    @property
    def version(self) -> str:
        return subgroups.mask_version(self._params)

    def _compute(self) -> None:
        if self._skin is None:
            with self._timer.stage("masks"):
                self._set([analyse_image(im, self._params) for im in self._images])

    def skin(self) -> np.ndarray:
        self._compute()
        return self._skin

    def lesion(self) -> np.ndarray:
        self._compute()
        return self._lesion

    def region(self) -> np.ndarray:
        """Skin and lesion together: where regional perturbations (redness) act."""
        self._compute()
        return self._region


class PerturbedImages:
    """The ladder applied to the clean images on demand, one variant in memory at a time.

    The clean images' CIELAB is prepared once for the whole ladder; stochastic families are seeded
    per image by content hash (``image_ids``), so a cached prediction always belongs to the same
    draw. Images given as arrays to the Python API are hashed from their pixels, so they get
    seeds of their own (not those of the files they may have been decoded from).
    """

    def __init__(self, images: np.ndarray, image_ids: list[str], masks: RegionMasks, *, seed: int,
                 timer: Timer):
        self._images = images
        self._ids = image_ids
        self._masks = masks
        self._seed = seed
        self._timer = timer
        self._prepared = None
        self._memo: dict[str, np.ndarray] = {}

    @property
    def seed(self) -> int:
        return self._seed

    def key(self, variant) -> str:
        """Cache key of a variant (:func:`variant_key`)."""
        return variant_key(variant, seed=self._seed, mask_version=self._masks.version)

    def _prep(self):
        if self._prepared is None:
            with self._timer.stage("perturb"):
                self._prepared = perturbations.prepare(self._images)
        return self._prepared

    def __call__(self, variant) -> np.ndarray:
        if variant.name not in self._memo:
            region = self._masks.region() if getattr(variant, "uses_mask", True) else None
            prep = self._prep()
            with self._timer.stage("perturb"):
                self._memo.clear()
                self._memo[variant.name] = perturbations.apply(
                    variant, prep, masks=region, seed=self._seed, image_ids=self._ids)
        return self._memo[variant.name]

    def subset(self, variant, idx) -> np.ndarray:
        """``self(variant)[idx]`` without perturbing the other images (every family acts on
        each image alone: its own mean, mask and seed)."""
        idx = np.asarray(idx, dtype=np.int64)
        if variant.name in self._memo:
            return self._memo[variant.name][idx]
        uses_mask = getattr(variant, "uses_mask", True)
        region = self._masks.region()[idx] if uses_mask else None
        with self._timer.stage("perturb"):
            return perturbations.apply(variant, self._images[idx], masks=region, seed=self._seed,
                                       image_ids=[self._ids[i] for i in idx])

    def achieved(self, variant) -> dict[str, np.ndarray]:
        out = self(variant)
        with self._timer.stage("achieved"):
            return perturbations.achieved(self._prep(), out, masks=self._masks.region())

    def release(self) -> None:
        self._memo.clear()


def variant_record(variant, *, perturbed: PerturbedImages, masks: RegionMasks,
                   image_keys: list[str], cache: ArrayCache) -> dict[str, Any]:
    """A variant's entry of ``results["perturbations"]["variants"]``: its spec, what it asked
    for and a summary of what it achieved over the images.

    Achieved deltas do not depend on the model: they are cached by variant and image, the region
    they are measured over (always the skin mask) and the measures' formulas.
    """
    akey = achieved_namespace(variant, seed=perturbed.seed, mask_version=masks.version)
    ach = cached_fields(cache, akey, image_keys, lambda: perturbed.achieved(variant))
    return variant_entry(variant, ach)
