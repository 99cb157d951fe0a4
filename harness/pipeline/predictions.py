"""The predictions stage: the model on the clean images and on every variant of the ladder
(cached: a second audit of the same model and images runs nothing)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.cache import ArrayCache
from harness.models.open import LoadedModel
from harness.models.outputs import explained_class_probability, top_class_index
from harness.models.predict import predict_cached
from harness.pipeline.ladder import PerturbedImages, RegionMasks, variant_record
from harness.pipeline.timer import Timer, progress_bar


@dataclass(frozen=True)
class Predictions:
    """Positive-class probabilities per variant, and the ladder's record.

    Attributes
    ----------
    p : dict
        ``"clean"`` and every variant name (``"blur@3"``) -> (N,) float64, in ladder order: the
        probability of the positive class, or for a K-class model that of the top class.
    variants : list of dict
        One entry of ``results["perturbations"]["variants"]`` per variant (requested and
        achieved).
    class_probs : dict or None
        For a K-class model (``model.kclass``): the same names -> (N, K) probabilities of every
        class in ``spec.class_names`` order; None otherwise.
    """

    p: dict[str, np.ndarray]
    variants: list[dict[str, Any]]
    class_probs: dict[str, np.ndarray] | None = None


def predictions_stage(*, model: LoadedModel, images: np.ndarray, image_keys: list[str],
                      variants: list, perturbed: PerturbedImages, masks: RegionMasks,
                      cache: ArrayCache, batch_size: int, timer: Timer,
                      progress: bool) -> Predictions:
    """Predict the clean images, then each variant of the ladder in turn.

    A variant's images are made only when one of its predictions is missing from the cache, and
    what it achieved is measured in the same pass, while its images are in memory (one variant
    at a time).
    """
    probs: dict[str, np.ndarray] = {}
    with timer.stage("predict"):
        probs["clean"] = predict_cached(model, images, image_keys=image_keys, variant="clean",
                                        cache=cache, batch_size=batch_size, progress=progress)
    records = []
    for variant in progress_bar(variants, progress=progress, desc="variants"):
        with timer.stage("predict"):
            probs[variant.name] = predict_cached(
                model, lambda v=variant: perturbed(v), image_keys=image_keys,
                variant=perturbed.key(variant), cache=cache, batch_size=batch_size,
                progress=False)
        records.append(variant_record(variant, perturbed=perturbed, masks=masks,
                                      image_keys=image_keys, cache=cache))
    perturbed.release()
    if not model.kclass:
        return Predictions(p=probs, variants=records)
    top = {name: explained_class_probability(P, top_class_index(P)) for name, P in probs.items()}
    return Predictions(p=top, variants=records, class_probs=probs)
