"""Images a later stage needs again, read back from the source a few at a time.

The streamed pass keeps no pixels. Grad-CAM's selection and the report's strips are decided from
the per-image table once the pass is done; :class:`Revisit` then decodes just those images again
(the same bytes give the same pixels and hashes), with their masks and their ladder: every
family acts on each image alone (its own mask, its own seed from its content hash), so a subset
gets exactly the perturbed pixels the pass predicted on.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.data.source import ImageSource
from harness.errors import UserError
from harness.pipeline.ladder import PerturbedImages, RegionMasks
from harness.pipeline.timer import Timer


@dataclass(frozen=True)
class Visit:
    """Some of the audit's images: the pixels, their masks and their ladder."""

    images: np.ndarray
    masks: RegionMasks
    perturbed: PerturbedImages


class Revisit:
    """Read images of the audit again by their position in the dataset (0..N-1)."""

    def __init__(self, source: ImageSource, *, entry_of: np.ndarray, hashes: list[str],
                 files: list[str], skin_tone, seed: int, timer: Timer):
        self._files = files
        self._source = source
        self._entry_of = np.asarray(entry_of, dtype=np.int64)  # dataset position -> candidate
        self._hashes = hashes
        self._skin_tone = skin_tone
        self._seed = seed
        self._timer = timer

    def __call__(self, idx) -> Visit:
        idx = np.asarray(idx, dtype=np.int64)
        with self._timer.stage("load_data"):
            decoded = self._source.decode(self._entry_of[idx].tolist())
        for i, d in zip(idx.tolist(), decoded):
            if d.reason is not None or d.sha256 != self._hashes[i]:
                raise UserError(f"{self._files[i]}: changed or vanished while it was being "
                                "audited; leave the data as it is during a run and run again")
        images = np.stack([d.image for d in decoded])
        masks = RegionMasks(images, self._timer, skin_tone=self._skin_tone)
        ids = [self._hashes[i] for i in idx]
        return Visit(images=images, masks=masks,
                     perturbed=PerturbedImages(images, ids, masks, seed=self._seed,
                                               timer=self._timer))
