"""Train the DermaTrace classifier: MobileNetV2 in the EczemaNet tradition, without leaks.

:func:`train_model` is the list of its steps: check the options, read the training images, build
the frozen backbone and its features, cross-validate the recipe (the threshold and the sidecar's
``validation``, :mod:`harness.train.validation`), train the model to save on every training image,
and write it with its sidecar (:mod:`harness.train.save`). The saved model is one Functional Keras
model taking RGB 0..255 at its input size and giving P(positive class)
(:mod:`harness.train.classifier`); the recipes are :mod:`harness.train.recipes`.

Determinism: ``keras.utils.set_random_seed(seed)`` before every fit and
``tf.config.experimental.enable_op_determinism()``; splits and folds use ``seed``. The same data,
recipe, options and seed give the same sidecar, byte for byte, on the same machine and versions.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Sequence

from harness.cache import ArrayCache
from harness.train.fitting import (
    FitInputs,
    backbone_weights_for,
    final_model,
    fold_fitter,
    frozen_backbone,
)
from harness.train.options import check_options
from harness.train.save import save_model, sidecar_spec
from harness.train.training_data import load_training_data
from harness.train.validation import cross_validate

__all__ = ["train_model"]


class _Clock:
    """Seconds per step, and in all since the clock was made."""

    def __init__(self):
        self.start, self.steps = time.perf_counter(), {}

    @contextlib.contextmanager
    def __call__(self, step: str):
        t0 = time.perf_counter()
        yield
        self.steps[step] = time.perf_counter() - t0

    def rounded(self) -> dict:
        steps = dict(self.steps, total=time.perf_counter() - self.start)
        return {k: round(v, 3) for k, v in steps.items()}


def _seed_everything(seed: int) -> None:
    import keras
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)


def train_model(*, data: Path, out: Path, recipe: str, backbone_weights: str = "imagenet",
                val_fraction: float = 0.2, epochs: int | None = None, seed: int = 0,
                input_size: int | None = None, folds: int = 5, progress: bool = False,
                cache: ArrayCache | Path | None = None, positive_class: str | None = None,
                imagenet_fallbacks: Sequence[Path] = ()) -> dict:
    """Train one recipe on the training images of ``data`` and write ``out`` and its sidecar.

    Parameters
    ----------
    data, out : Path
        Two class subfolders or a manifest (of a folder holding ``train/``, only ``train/`` is
        read); the ``.keras`` file to write, the sidecar going to ``out.with_suffix(".json")``.
    recipe : str
        One of :data:`harness.train.recipes.RECIPES`.
    backbone_weights, imagenet_fallbacks : optional
        ``"imagenet"``, ``"none"`` or a weights file; local files for ``"imagenet"`` when Keras'
        download is not reachable (:func:`harness.train.backbone.resolve_backbone_weights`).
    val_fraction, epochs, input_size, folds, seed, progress, cache, positive_class : optional
        Early-stopping share (``finetune``); epochs (default: the recipe's; a maximum under early
        stopping); square input size (default: the recipe's); k of the cross-validation choosing
        the threshold; the seed of everything; tqdm bars; where pooled features are cached; the
        class the output measures (default: the second in sorted order).

    Returns
    -------
    dict
        The sidecar's content plus ``"model"``, ``"sidecar"`` (paths written) and ``"timings"``
        (seconds; not in the sidecar, which is deterministic).

    Raises
    ------
    UserError
        A bad option (:func:`harness.train.options.check_options`), unusable weights, a dataset
        without exactly two classes or with too few images for the folds.
    """
    clock = _Clock()
    options = check_options(recipe=recipe, out=out, val_fraction=val_fraction, epochs=epochs,
                            input_size=input_size, folds=folds)
    weights = backbone_weights_for(options.recipe, option=backbone_weights,
                                   fallbacks=imagenet_fallbacks)
    with clock("load"):
        training = load_training_data(data, size=options.size, positive_class=positive_class,
                                      folds=options.folds, finetune=options.recipe.finetune,
                                      val_fraction=val_fraction, progress=progress)
    _seed_everything(seed)
    with clock("features"):
        backbone = frozen_backbone(recipe=options.recipe, weights=weights, data=training,
                                   size=options.size, seed=seed, cache=cache, progress=progress)
    inputs = FitInputs(recipe=options.recipe, images=training.dataset.images, y=training.y,
                       backbone=backbone, epochs=options.epochs, seed=seed,
                       val_fraction=val_fraction, folds=options.folds, progress=progress)
    with clock("cross_validation"):
        validation = cross_validate(fold_fitter(inputs), y=training.y, folds=options.folds,
                                    seed=seed, desc=recipe)
    with clock("final_fit"):
        model, final_info = final_model(inputs, desc=f"{recipe}: final")
    spec = sidecar_spec(options=options, data=training, seed=seed, validation=validation,
                        backbone=backbone.info, final_model=final_info)
    sidecar = save_model(model, spec, out=options.out)
    return dict(spec, model=str(options.out), sidecar=str(sidecar), timings=clock.rounded())
