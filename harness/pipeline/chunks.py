"""One chunk of an audit's images: the per-image work, and the per-image numbers it leaves.

The work on a chunk has two halves, so that an engine can run them in different places:

* :func:`prepare_chunk` (the CPU half): decode the chunk's candidates, measure each clean image's
  skin tone, encode its thumbnail, find its skin and lesion masks, and for each variant of the
  ladder make the perturbed images (only when a prediction or an achieved measure is missing from
  the cache) and measure what they achieved. It yields a :class:`ChunkHead`, then one
  :class:`VariantPart` per variant, so that one variant's images are in memory at a time.
* :func:`predict_chunk` (the model half): the model on the clean images and on each variant's,
  through the prediction cache.

:func:`run_chunk` does both in one place (a Ray worker). What a chunk leaves is a
:class:`ChunkResult` of per-image scalars (probabilities, tone, achieved deltas) and thumbnail
bytes; its pixels are gone when it is done. Every step acts on each image alone (its own mask,
its own seed drawn from its content hash, model batches padded to a fixed size), so the numbers
do not depend on how the images were cut into chunks.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from harness.cache import ArrayCache
from harness.data.load import Decoded
from harness.data.source import ImageSource
from harness.models.predict import cached_predictions, predict_cached
from harness.pipeline.cached import cached_fields
from harness.pipeline.inputs import image_key
from harness.pipeline.ladder import PerturbedImages, RegionMasks, achieved_namespace
from harness.pipeline.timer import Timer
from reports.assets import thumbnail_bytes
from subgroups import estimate_skin_tone, mask_version
from subgroups.mask import analyse_image

#: Images per chunk unless ``--chunk-size`` says otherwise: a prediction batch's worth at the
#: default batch size, small enough that a worker's chunk (its images, their CIELAB copy, masks
#: and one variant's perturbed images) stays near 150 MB at 384 px.
DEFAULT_CHUNK_SIZE = 32


@dataclass(frozen=True)
class ChunkJob:
    """What every chunk of one audit shares (picklable: a Ray worker gets a copy).

    Attributes
    ----------
    source : the images (``harness.data.source``).
    variants : the ladder's variants, in ladder order.
    skin_tone : the audit config's skin-tone settings. scheme : the ITA grouping scheme.
    seed : the audit's seed (stochastic perturbations). thumbnails : encode clean thumbnails.
    batch_size : the model's forward batch.
    """

    source: ImageSource
    variants: tuple
    skin_tone: Any
    scheme: str
    seed: int
    thumbnails: bool
    batch_size: int

    @property
    def mask_version(self) -> str:
        return mask_version(self.skin_tone.mask)


@dataclass
class ChunkHead:
    """A chunk's clean images and what was measured on them."""

    decoded: list[Decoded]        # one per candidate, without pixels
    images: np.ndarray            # (n, H, W, 3) uint8, the usable images
    hashes: list[str]             # their content hashes
    keys: list[str]               # their cache keys (``inputs.image_key``)
    positions: list[int]          # their candidate positions (their places in forward batches)
    tone: pd.DataFrame            # their skin tone (``subgroups.estimate_skin_tone``)
    thumbs: list[bytes] | None    # their thumbnails (JPEG) when the run writes them
    timer: Timer = field(default_factory=Timer)


@dataclass
class VariantPart:
    """One variant of a chunk: its perturbed images when a prediction is missing (else None),
    and what it achieved (cached by image)."""

    name: str
    key: str
    images: np.ndarray | None
    achieved: dict[str, np.ndarray]


@dataclass
class ChunkResult:
    """What a chunk leaves: per-image scalars, and its thumbnails."""

    decoded: list[Decoded]
    keys: list[str]
    tone: pd.DataFrame
    thumbs: list[bytes] | None
    probs: dict[str, np.ndarray]                 # "clean" and each variant -> (n,) or (n, K)
    achieved: dict[str, dict[str, np.ndarray]]   # variant -> measure -> (n,)
    seconds: dict[str, float]


def prepare_chunk(job: ChunkJob, indices: list[int], *, model, cache: ArrayCache
                  ) -> Iterator[ChunkHead | VariantPart]:
    """The CPU half of a chunk: a :class:`ChunkHead`, then one :class:`VariantPart` per variant.

    ``model`` is read for its cache keys only (``hash``, ``cache_tag``); it is never run here.
    """
    timer = Timer()
    with timer.stage("load_data"):
        decoded = job.source.decode(indices)
    usable = [d for d in decoded if d.reason is None]
    positions = [i for i, d in zip(indices, decoded) if d.reason is None]
    width, height = job.source.size
    images = (np.stack([d.image for d in usable]) if usable
              else np.zeros((0, height, width, 3), dtype=np.uint8))
    hashes = [d.sha256 for d in usable]
    keys = [image_key(h, job.source.size) for h in hashes]
    with timer.stage("masks"):  # one mask pass serves the skin tone and the ladder
        found = [analyse_image(im, job.skin_tone.mask) for im in images]
    with timer.stage("skin_tone"):
        tone = estimate_skin_tone(images, settings=job.skin_tone, scheme=job.scheme, found=found)
    thumbs = None
    if job.thumbnails:
        with timer.stage("write"):
            thumbs = [thumbnail_bytes(im) for im in images]
    stripped = [replace(d, image=None) for d in decoded]
    yield ChunkHead(decoded=stripped, images=images, hashes=hashes, keys=keys,
                    positions=positions, tone=tone, thumbs=thumbs, timer=timer)
    if not usable or not job.variants:
        return
    masks = RegionMasks(images, timer, skin_tone=job.skin_tone, found=found)
    del found
    perturbed = PerturbedImages(images, hashes, masks, seed=job.seed, timer=timer)
    for variant in job.variants:
        vkey = perturbed.key(variant)
        _, missing = cached_predictions(model, image_keys=keys, variant=vkey, cache=cache)
        namespace = achieved_namespace(variant, seed=job.seed, mask_version=masks.version)
        achieved = cached_fields(cache, namespace, keys, lambda v=variant: perturbed.achieved(v))
        yield VariantPart(name=variant.name, key=vkey,
                          images=perturbed(variant) if missing else None, achieved=achieved)
    perturbed.release()


def predict_part(model, head: ChunkHead, part: VariantPart | None, *, cache: ArrayCache,
                 batch_size: int) -> np.ndarray:
    """The model half for the clean images (``part`` None) or one variant of a chunk."""
    if part is None:
        return predict_cached(model, head.images, image_keys=head.keys, variant="clean",
                              cache=cache, batch_size=batch_size, positions=head.positions)
    return predict_cached(model, _images_of(part), image_keys=head.keys, variant=part.key,
                          cache=cache, batch_size=batch_size, positions=head.positions)


def _images_of(part: VariantPart):
    def images() -> np.ndarray:
        if part.images is None:  # every prediction was cached when the part was made
            raise RuntimeError(f"{part.name}: predictions went missing from the cache mid-run")
        return part.images
    return images


def collect_chunk(items, *, model, cache: ArrayCache, batch_size: int) -> ChunkResult:
    """The model half of a chunk: run the model on the items of :func:`prepare_chunk` (or of a
    queue fed by it) as they come, and keep only per-image numbers."""
    timer = Timer()
    result = head = None
    for item in items:
        with timer.stage("predict"):
            if isinstance(item, ChunkHead):
                head = item
                result = ChunkResult(decoded=head.decoded, keys=head.keys, tone=head.tone,
                                     thumbs=head.thumbs, probs={}, achieved={}, seconds={})
                result.probs["clean"] = predict_part(model, head, None, cache=cache,
                                                     batch_size=batch_size)
            else:
                result.probs[item.name] = predict_part(model, head, item, cache=cache,
                                                       batch_size=batch_size)
                result.achieved[item.name] = item.achieved
    result.seconds = merge_seconds(head.timer.seconds, timer.seconds)
    return result


def run_chunk(job: ChunkJob, indices: list[int], *, model, cache: ArrayCache) -> ChunkResult:
    """Both halves of a chunk, one after the other (a worker that holds the model)."""
    return collect_chunk(prepare_chunk(job, indices, model=model, cache=cache), model=model,
                         cache=cache, batch_size=job.batch_size)


def merge_seconds(*parts: dict[str, float]) -> dict[str, float]:
    """Seconds per stage added up over several timers."""
    out: dict[str, float] = {}
    for part in parts:
        for name, s in part.items():
            out[name] = round(out.get(name, 0.0) + s, 4)
    return out
