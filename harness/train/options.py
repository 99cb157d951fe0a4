"""The options of one training run, checked before anything is loaded."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import UserError
from harness.train.recipes import Recipe, recipe_named

__all__ = ["TrainingOptions", "check_options"]


@dataclass(frozen=True)
class TrainingOptions:
    """What :func:`harness.train.run.train_model` was asked for, checked and resolved.

    Attributes
    ----------
    recipe : Recipe
        The recipe (:data:`harness.train.recipes.RECIPES`).
    out : Path
        The ``.keras`` file to write.
    size : int
        Square input size in pixels: the option, else the recipe's.
    epochs : int or None
        Epochs of the dense head, the small net or fine-tuning: the option, else the recipe's.
    folds : int
        k of the cross-validation that chooses the threshold.
    val_fraction : float
        Share held out for early stopping (``finetune``), as given.
    """

    recipe: Recipe
    out: Path
    size: int
    epochs: int | None
    folds: int
    val_fraction: float


def _is_int(value) -> bool:
    return not isinstance(value, bool) and int(value) == value


def check_options(*, recipe: str, out: Path, val_fraction: float, epochs: int | None,
                  input_size: int | None, folds: int) -> TrainingOptions:
    """Check the options of a training run (see :func:`harness.train.run.train_model`).

    Raises
    ------
    UserError
        Naming the first bad option: an unknown recipe, ``out`` not ending in ``.keras``,
        ``val_fraction`` outside (0, 0.9), ``epochs`` not a positive integer, an input size below
        32 pixels, fewer than 2 folds.
    """
    rec = recipe_named(recipe)
    out = Path(out)
    if out.suffix != ".keras":
        raise UserError(f"--out: the model is written as a .keras file (got {str(out)!r}); give "
                        "a name ending in .keras")
    if isinstance(val_fraction, bool) or not 0.0 < float(val_fraction) < 0.9:
        raise UserError(f"--val-fraction: must be between 0 and 0.9 (got {val_fraction!r}); "
                        "e.g. 0.2")
    if epochs is not None and (not _is_int(epochs) or epochs < 1):
        raise UserError(f"--epochs: must be a positive integer (got {epochs!r})")
    size = rec.input_size if input_size is None else input_size
    if not _is_int(size) or size < 32:
        raise UserError(f"--input-size: must be an integer of at least 32 pixels (got "
                        f"{input_size!r}); MobileNetV2 needs 32 x 32 or more")
    if not _is_int(folds) or folds < 2:
        raise UserError(f"--folds: must be an integer of at least 2 (got {folds!r})")
    return TrainingOptions(recipe=rec, out=out, size=int(size),
                           epochs=int(epochs) if epochs is not None else rec.epochs,
                           folds=folds, val_fraction=val_fraction)
