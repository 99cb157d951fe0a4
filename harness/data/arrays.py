"""Images given as arrays (the Python API's ``data=(images, labels[, extra])``) as a dataset.

:func:`array_data` checks what arrived; :func:`dataset_from_arrays` makes the same
:class:`harness.data.load.Dataset` that ``load_dataset`` makes of files: images named
``array/000000``, ``array/000001``, ... in the order given, hashed from their pixels, resized to the
model's size with the same resize as decoded files (:func:`harness.data.decode.resize`), labels
outside the model's class names skipped and listed.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd

from harness.data.decode import _check_size, resize
from harness.data.load import (Dataset, Decoded, Skipped, _label_problem, _skip_summary,
                               dataset_fingerprint)
from harness.errors import UserError, UserTypeError

__all__ = ["ArrayData", "ArrayPlan", "array_data", "assemble_arrays", "dataset_from_arrays",
           "decode_array", "plan_arrays"]


@dataclass(frozen=True, eq=False)
class ArrayData:
    """Images and labels given as arrays, validated by :func:`array_data`.

    ``images`` is one uint8 (N, H, W, 3) array or a tuple of (H, W, 3) arrays; ``labels`` one
    class name per image; ``extra`` a DataFrame of extra columns (e.g. ``fitzpatrick``) with one
    row per image, or None.
    """

    #: How results.json names array data (``dataset.root``, ``config.data``).
    ROOT: ClassVar[str] = "<arrays>"
    images: Any
    labels: tuple[str, ...]
    extra: pd.DataFrame | None = None

    def __repr__(self) -> str:
        return f"ArrayData({len(self.labels)} images)"


def array_data(images: Any, labels: Any, extra: pd.DataFrame | None = None, *,
               name: str = "data") -> ArrayData:
    """Check arrays given as a dataset; ``name`` is the argument the messages name.

    Raises
    ------
    UserTypeError
        ``images`` is not a uint8 array (or a sequence of them), a label is not a string, or
        ``extra`` is not a DataFrame.
    UserError
        The images are not RGB (N, H, W, 3), there is none, or the labels or extra rows do not
        match the number of images.
    """
    def describe(x: Any) -> str:
        if isinstance(x, np.ndarray):
            return f"an array of dtype {x.dtype} and shape {x.shape}"
        if isinstance(x, (str, int, float)):
            return f"{x!r} ({type(x).__name__})"
        return f"a {type(x).__name__}"

    if isinstance(images, np.ndarray):
        if images.dtype != np.uint8:
            raise UserTypeError(f"{name}: images must be uint8 RGB (N, H, W, 3), got {describe(images)}; "
                                "convert them with images.astype(np.uint8) after scaling to 0-255")
        if images.ndim != 4 or images.shape[-1] != 3:
            raise UserError(f"{name}: images must be uint8 RGB (N, H, W, 3), got {describe(images)}; "
                            "stack the images into one array with 3 colour channels")
        stack: Any = images
    elif isinstance(images, (list, tuple)) and all(isinstance(i, np.ndarray) for i in images):
        bad = next((i for i in images if i.dtype != np.uint8 or i.ndim != 3 or i.shape[-1] != 3),
                   None)
        if bad is not None:
            kind = UserTypeError if bad.dtype != np.uint8 else UserError
            raise kind(f"{name}: every image must be uint8 RGB (H, W, 3), got {describe(bad)}")
        stack = tuple(images)
    else:
        raise UserTypeError(f"{name}: images must be a uint8 (N, H, W, 3) array or a list of "
                            f"(H, W, 3) arrays, got {describe(images)}")
    n = len(stack)
    if n == 0:
        raise UserError(f"{name}: no images (got {describe(images)}); give at least one image")
    if isinstance(labels, str) or not hasattr(labels, "__len__"):
        raise UserTypeError(f"{name}: labels must be a sequence of class names, one per image, "
                            f"got {describe(labels)}")
    labels = list(labels.tolist() if isinstance(labels, (np.ndarray, pd.Series)) else labels)
    if len(labels) != n:
        raise UserError(f"{name}: {len(labels)} labels for {n} images; give one class name per image")
    wrong = next((v for v in labels if not isinstance(v, str)), None)
    if wrong is not None:
        raise UserTypeError(f"{name}: labels must be class-name strings, got {wrong!r} "
                            f"({type(wrong).__name__}); map them to names, e.g. "
                            "[names[i] for i in labels]")
    if extra is not None:
        if not isinstance(extra, pd.DataFrame):
            raise UserTypeError(f"{name}: extra columns must be a pandas DataFrame, got "
                                f"{describe(extra)}")
        if len(extra) != n:
            raise UserError(f"{name}: extra has {len(extra)} rows for {n} images; give one row per "
                            "image")
        extra = extra.reset_index(drop=True)
    return ArrayData(images=stack, labels=tuple(labels), extra=extra)


def dataset_from_arrays(data: ArrayData, *, size: tuple[int, int],
                        allowed_labels: Sequence[str] | None = None) -> Dataset:
    """A :class:`Dataset` of arrays, as :func:`load_dataset` makes one of files.

    Images are named ``array/000000``... in the order given and hashed from their pixels (shape
    and bytes: array images get their own hashes, hence their own perturbation seeds and cache
    entries); an image of another size is resized to ``size`` with the same resize as a decoded
    file. An image whose label is not in ``allowed_labels`` is skipped and listed, as a file is.
    """
    plan = plan_arrays(data, allowed_labels=allowed_labels)
    return assemble_arrays(plan, [decode_array(data, i, size) for i in plan.kept])


@dataclass(frozen=True)
class ArrayPlan:
    """The arrays an audit keeps (``kept``: indices into the arrays given), and those it skips."""

    data: ArrayData
    kept: tuple[int, ...]
    skipped: tuple[Skipped, ...]
    allowed: frozenset[str] | None


def plan_arrays(data: ArrayData, *, allowed_labels: Sequence[str] | None = None) -> ArrayPlan:
    """Which arrays are kept: those whose label is among ``allowed_labels`` (all when None)."""
    allowed = None if allowed_labels is None else frozenset(str(v) for v in allowed_labels)
    kept: list[int] = []
    skipped: list[Skipped] = []
    for i, label in enumerate(data.labels):
        reason = _label_problem(label, allowed)
        if reason is None:
            kept.append(i)
        else:
            skipped.append(Skipped(_name(i), reason))
    if not kept:
        raise UserError(f"data: no usable image ({_skip_summary(skipped)}); give labels among "
                        f"the model's class names ({', '.join(sorted(allowed or ()))})")
    return ArrayPlan(data=data, kept=tuple(kept), skipped=tuple(skipped), allowed=allowed)


def decode_array(data: ArrayData, i: int, size: tuple[int, int]) -> Decoded:
    """Array ``i`` as a decoded file: hashed from its shape and pixels, resized to ``size``."""
    _check_size(size)
    width, height = size
    image = np.ascontiguousarray(data.images[i])
    h, w = image.shape[:2]
    digest = hashlib.sha256(f"dermatrace-array-v1\n{w}x{h}x3\n".encode())
    digest.update(image.tobytes())
    out = image if (w, h) == (width, height) else resize(image, (width, height))
    return Decoded(image=out, original_size=(w, h), sha256=digest.hexdigest(), reason=None)


def assemble_arrays(plan: ArrayPlan, decoded: Sequence[Decoded]) -> Dataset:
    """The :class:`Dataset` of the kept arrays (``decoded`` in ``plan.kept`` order); its
    ``images`` is None when the decoded entries hold no pixels (a streamed audit)."""
    data = plan.data
    images = None
    if decoded and all(d.image is not None for d in decoded):
        images = np.stack([d.image for d in decoded])
    hashes = [d.sha256 for d in decoded]
    labels = [data.labels[i] for i in plan.kept]
    names = [_name(i) for i in plan.kept]
    if data.extra is not None:
        extra = data.extra.iloc[list(plan.kept)].reset_index(drop=True)
    else:
        extra = pd.DataFrame(index=pd.RangeIndex(len(plan.kept)))
    return Dataset(root=Path(ArrayData.ROOT), files=names, labels=np.array(labels, dtype=str),
                   class_names=sorted({v for v in labels if v}), images=images,
                   image_hashes=hashes, extra=extra,
                   original_sizes=[d.original_size for d in decoded], skipped=list(plan.skipped),
                   fingerprint=dataset_fingerprint(names, hashes, labels), layout="arrays")


def _name(i: int) -> str:
    return f"array/{i:06d}"
