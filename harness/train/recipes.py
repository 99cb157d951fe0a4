"""The training recipes of the DermaTrace classifier: one table (:data:`RECIPES`).

``baseline``
    The original study's head on a frozen ImageNet backbone: dropout 0.3, one sigmoid unit,
    Adam 1e-4, batch 32, 10 epochs, 224 px.
``class-weighted``
    ``baseline`` with balanced class weights (``n / (2 n_c)``).
``finetune``
    Linear probe then fine-tune: the head starts from ``linear-head``'s solution on the frozen
    features, then the top of the backbone (from ``block_13`` on; BatchNormalization layers stay
    frozen) is trained with the head at Adam 1e-5 under light augmentation (flips, rotation
    within +-18 degrees, contrast +-0.1, zoom +-10%; built-in Keras layers active only in training
    and not part of the saved model), with early stopping on a seeded, stratified validation
    split (``val_fraction``) of the training images: the epoch with the lowest validation loss is
    kept (patience 3). See :mod:`harness.train.finetune`.
``linear-head``
    L2-regularised logistic regression on the standardised pooled features of a frozen backbone,
    at 384 px, with C chosen from a grid by stratified cross-validation (ROC AUC) within the
    training images; standardisation and coefficients are folded into the Dense layer's kernel
    and bias, so the saved model is the same architecture as every other recipe.
``small-cnn``, ``small-cnn-weighted``
    A small net trained from scratch (:mod:`harness.train.small_cnn`), for data no pretrained
    backbone knows (the synthetic demo); the second with balanced class weights.

Frozen recipes train their head on cached backbone features (:mod:`harness.train.features`,
:mod:`harness.train.heads`): the forward pass is paid once per image and input size, and a head
epoch takes milliseconds.

``backbone_weights="none"`` gives a randomly initialised backbone whose BatchNormalization
statistics are then set from (at most 64 of) the training images
(:func:`harness.train.backbone.calibrate_batchnorm`); without that, Keras' random MobileNetV2
outputs features of about 1e-12 and every frozen recipe would learn a constant. The calibration
sees the images (never their labels) of every fold, so with random weights the out-of-fold numbers
are transductive; ImageNet weights involve no such step. Random features are fast and structurally
complete (tests, the synthetic demo) but carry little about lesions: use the ImageNet weights for a
useful classifier.
"""
from __future__ import annotations

from dataclasses import dataclass

from harness.errors import UserError

__all__ = ["RECIPES", "Recipe", "recipe_named"]


@dataclass(frozen=True)
class Recipe:
    """How one recipe trains (see the module docstring)."""

    name: str
    head: str  # "dense": Keras head trained by Adam; "logistic": logistic regression; "cnn"
    input_size: int  # default square input size
    class_weighted: bool = False
    finetune: bool = False
    epochs: int | None = None  # dense head / fine-tuning epochs (a maximum when early stopping)
    learning_rate: float | None = None
    batch_size: int = 32
    unfreeze_from: str | None = None  # first backbone layer trained when fine-tuning
    augment: bool = False
    patience: int | None = None  # early stopping on validation loss
    dropout: float = 0.3
    architecture: str = "mobilenet_v2"  # or "small_cnn" (trained from scratch; harness.train.small_cnn)


RECIPES: dict[str, Recipe] = {
    "baseline": Recipe("baseline", head="dense", input_size=224, epochs=10,
                       learning_rate=1e-4),
    "class-weighted": Recipe("class-weighted", head="dense", input_size=224, epochs=10,
                             learning_rate=1e-4, class_weighted=True),
    "finetune": Recipe("finetune", head="dense", input_size=224, finetune=True, epochs=20,
                       learning_rate=1e-5, batch_size=16, unfreeze_from="block_13_expand",
                       augment=True, patience=3),
    "linear-head": Recipe("linear-head", head="logistic", input_size=384),
    # A small net trained from scratch, for data no pretrained backbone knows (the synthetic demo).
    "small-cnn": Recipe("small-cnn", head="cnn", input_size=64, epochs=12, learning_rate=2e-3,
                        architecture="small_cnn"),
    "small-cnn-weighted": Recipe("small-cnn-weighted", head="cnn", input_size=64, epochs=12,
                                 learning_rate=2e-3, class_weighted=True,
                                 architecture="small_cnn"),
}


def recipe_named(name: str) -> Recipe:
    """The recipe called ``name``.

    Raises
    ------
    UserError
        ``name`` is not a key of :data:`RECIPES`.
    """
    if name not in RECIPES:
        raise UserError(f"--recipe: unknown recipe {name!r}; use one of {', '.join(RECIPES)}")
    return RECIPES[name]
