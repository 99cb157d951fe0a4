"""The training images of a run: ``train/`` only, exactly two classes, labels as 0/1."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import UserError

__all__ = ["TrainingData", "load_training_data", "training_folder"]


def training_folder(data: Path) -> Path:
    """The folder or manifest to train on: ``data/train`` when ``data`` has one, else ``data``.

    A ``test/`` (or any other) folder beside ``train/`` is never looked into.
    """
    data = Path(data)
    if (data / "train").is_dir():
        return data / "train"
    return data


@dataclass(frozen=True)
class TrainingData:
    """The decoded training images and what the run calls their classes.

    Attributes
    ----------
    folder : Path
        What was read (:func:`training_folder`).
    dataset : harness.data.load.Dataset
        The decoded images (uint8 at the input size), their hashes, labels and fingerprint.
    class_names : list of str
        ``[negative, positive]``.
    positive_class : str
        The class the model's probability measures.
    y : np.ndarray
        int64 0/1 labels, 1 for ``positive_class``, row-aligned with ``dataset.images``.
    """

    folder: Path
    dataset: object
    class_names: list[str]
    positive_class: str
    y: np.ndarray


def load_training_data(data: Path, *, size: int, positive_class: str | None, folds: int,
                       finetune: bool, val_fraction: float, progress: bool) -> TrainingData:
    """Decode the training images of ``data`` at ``size`` and check there are enough of them.

    ``positive_class`` defaults to the second class name in sorted order (what the sidecar
    convention infers).

    Raises
    ------
    UserError
        Not exactly two labelled classes, an unknown ``positive_class``, a smaller class with
        fewer images than ``folds``, or (``finetune``) too few images to hold out
        ``val_fraction`` of each class in every fold.
    """
    from harness.data.load import load_dataset

    folder = training_folder(data)
    ds = load_dataset(folder, size=(size, size), progress=progress)
    names = [c for c in ds.class_names]
    if len(names) != 2 or "" in names:
        raise UserError(f"{folder}: training needs exactly two labelled classes (got "
                        f"{names!r}); give a folder with two class subfolders or a manifest "
                        "with two labels")
    if positive_class is None:
        positive_class = names[1]
    if positive_class not in names:
        raise UserError(f"--positive-class: {positive_class!r} is not a class of {folder} "
                        f"({names!r}); give one of them")
    negative = names[0] if names[1] == positive_class else names[1]
    y = (np.asarray(ds.labels) == positive_class).astype(np.int64)
    smallest = int(np.bincount(y, minlength=2).min())
    if smallest < folds:
        raise UserError(f"{folder}: the smaller class has {smallest} usable image(s), fewer than "
                        f"--folds {folds}; add images or lower --folds")
    if finetune and smallest * (folds - 1) / folds * val_fraction < 1:
        raise UserError(f"{folder}: too few images to hold out --val-fraction {val_fraction} "
                        "of each class in every fold; add images or raise --val-fraction")
    return TrainingData(folder=folder, dataset=ds, class_names=[negative, positive_class],
                        positive_class=positive_class, y=y)
