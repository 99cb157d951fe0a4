"""One model of a recipe on some of the training images, and the frozen backbone it starts from.

:func:`fit_recipe` is what each cross-validation fold and the final model run: the small net
from scratch (:mod:`harness.train.small_cnn`), fine-tuning (:mod:`harness.train.finetune`), or a
head on the frozen backbone's cached features (:mod:`harness.train.heads`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from harness.cache import ArrayCache
from harness.train.backbone import (
    BackboneWeights,
    build_backbone,
    calibrate_batchnorm,
    resolve_backbone_weights,
)
from harness.train.callbacks import epoch_bar
from harness.train.classifier import build_classifier, predict_images, set_head
from harness.train.features import pooled_features
from harness.train.finetune import finetune
from harness.train.heads import balanced_class_weight, dense_head, logistic_head, sigmoid
from harness.train.recipes import Recipe
from harness.train.small_cnn import fit_small_cnn
from harness.train.training_data import TrainingData

__all__ = ["FitInputs", "Fitted", "FrozenBackbone", "backbone_weights_for", "final_model",
           "fit_recipe", "fold_fitter", "frozen_backbone"]


@dataclass(frozen=True)
class FrozenBackbone:
    """The run's backbone before any training: the model, its pooled features, what it is.

    ``model``, ``features`` and ``weights`` are None for the small net (no backbone).
    """

    model: object | None
    features: np.ndarray | None
    weights: list | None
    info: dict


def backbone_weights_for(recipe: Recipe, *, option: str,
                         fallbacks: Sequence[Path] = ()) -> BackboneWeights | None:
    """The backbone weights ``option`` names (None for the small net, which has no backbone).

    Raises ``UserError`` for unusable weights (:func:`resolve_backbone_weights`).
    """
    if recipe.architecture == "small_cnn":
        return None
    return resolve_backbone_weights(option, fallbacks=fallbacks)


def frozen_backbone(*, recipe: Recipe, weights: BackboneWeights | None, data: TrainingData,
                    size: int, seed: int, cache: ArrayCache | Path | None,
                    progress: bool) -> FrozenBackbone:
    """Build the backbone and compute (or read from ``cache``) its pooled features.

    Every MobileNetV2 recipe uses them: the frozen heads are trained on them, fine-tuning starts
    from a linear probe on them. Random weights get their BatchNormalization statistics from the
    training images first (:func:`harness.train.backbone.calibrate_batchnorm`). ``cache`` is an
    ``ArrayCache`` or its folder.
    """
    if recipe.architecture == "small_cnn":
        return FrozenBackbone(model=None, features=None, weights=None,
                              info={"architecture": "small_cnn", "weights": "trained from scratch"})
    from harness.data.decode import DECODER_VERSION

    if not isinstance(cache, ArrayCache):
        cache = ArrayCache(None if cache is None else Path(cache))
    images = data.dataset.images
    backbone = build_backbone((size, size), weights)
    info = weights.to_json()
    if weights.path is None:  # random weights: make them numerically alive
        info["batchnorm_calibration_images"] = calibrate_batchnorm(backbone, images, seed=seed)
    base_weights = backbone.get_weights()
    keys = [f"{h}:{size}x{size}:{DECODER_VERSION}" for h in data.dataset.image_hashes]
    features = pooled_features(images, backbone=backbone, weights=weights, image_keys=keys,
                               cache=cache, progress=progress, desc=f"{recipe.name}: features")
    return FrozenBackbone(model=backbone, features=features, weights=base_weights, info=info)


@dataclass(frozen=True)
class FitInputs:
    """What every fit of one run reads: the recipe, the images and labels, the options."""

    recipe: Recipe
    images: np.ndarray
    y: np.ndarray
    backbone: FrozenBackbone
    epochs: int | None
    seed: int
    val_fraction: float
    folds: int
    progress: bool


@dataclass(frozen=True)
class Fitted:
    """One trained model: ``predict(rows) -> P(positive)``, its info, and the model itself.

    ``model`` is the Keras classifier for the small net and fine-tuning; a frozen recipe's model
    is its ``head`` alone, ``(kernel, bias)`` on the pooled features.
    """

    predict: Callable[[np.ndarray], np.ndarray]
    info: dict
    model: object | None = None
    head: tuple[np.ndarray, float] | None = None


def fit_recipe(inputs: FitInputs, *, idx: np.ndarray, desc: str) -> Fitted:
    """Train the recipe on rows ``idx`` of the training images (see :class:`Fitted`)."""
    rec, images, y = inputs.recipe, inputs.images, inputs.y
    if rec.architecture == "small_cnn":
        model, info = fit_small_cnn(
            images[idx], y[idx], epochs=inputs.epochs, learning_rate=rec.learning_rate,
            batch_size=rec.batch_size, dropout=rec.dropout, seed=inputs.seed,
            class_weight=balanced_class_weight(y[idx]) if rec.class_weighted else None,
            callbacks=[epoch_bar(total=inputs.epochs, desc=desc, enabled=inputs.progress)])
        return Fitted(lambda j: predict_images(model, images[j]), info, model=model)
    features = inputs.backbone.features
    if rec.finetune:
        model, info = finetune(images=images, y=y, idx=idx, features=features, recipe=rec,
                               epochs=inputs.epochs, base_weights=inputs.backbone.weights,
                               seed=inputs.seed, val_fraction=inputs.val_fraction,
                               folds=inputs.folds, progress=inputs.progress, desc=desc)
        return Fitted(lambda j: predict_images(model, images[j]), info, model=model)
    if rec.head == "logistic":
        w, b, info = logistic_head(features[idx], y[idx],
                                   class_weight="balanced" if rec.class_weighted else None,
                                   folds=inputs.folds, seed=inputs.seed)
    else:
        w, b, info = dense_head(features[idx], y[idx], recipe=rec, epochs=inputs.epochs,
                                seed=inputs.seed, progress=inputs.progress, desc=desc)
    return Fitted(lambda j: sigmoid(features[j].astype(np.float64) @ w + b), info, head=(w, b))


def fold_fitter(inputs: FitInputs):
    """``fit(idx, desc) -> (predict, info)`` for :func:`harness.train.validation.cross_validate`."""

    def fit(idx: np.ndarray, desc: str):
        fitted = fit_recipe(inputs, idx=idx, desc=desc)
        return fitted.predict, fitted.info

    return fit


def final_model(inputs: FitInputs, *, desc: str):
    """The model to save, trained on every training image; returns (Keras model, info)."""
    import keras

    fitted = fit_recipe(inputs, idx=np.arange(len(inputs.y)), desc=desc)
    if fitted.model is not None:
        return fitted.model, fitted.info
    keras.utils.set_random_seed(inputs.seed)
    backbone = inputs.backbone.model
    model = build_classifier(backbone, dropout=inputs.recipe.dropout)
    set_head(model, *fitted.head)
    backbone.trainable = False
    return model, fitted.info
