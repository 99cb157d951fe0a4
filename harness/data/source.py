"""Where an audit's images come from, read a chunk at a time.

A source plans its candidates without decoding any (files listed by ``load.plan_dataset``, or
the arrays given to the Python API), decodes any of them on demand (thread safe), and assembles
the :class:`harness.data.load.Dataset` once every candidate was tried: the same files, skips,
hashes and fingerprint as ``load_dataset`` gives, without the pixels (``images`` is None).
A source is picklable: a Ray worker reads its chunks from the same source.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

from harness.data.arrays import ArrayData, ArrayPlan, assemble_arrays, decode_array, plan_arrays
from harness.data.decode import DEFAULT_MAX_PIXELS
from harness.data.load import (Dataset, DatasetPlan, Decoded, assemble_dataset, decode_entry,
                               decoding_warnings, plan_dataset)

__all__ = ["ArraySource", "FileSource", "ImageSource", "open_source"]


@dataclass(frozen=True)
class FileSource:
    """Image files planned from a folder or a manifest (``load.plan_dataset``)."""

    plan: DatasetPlan
    path: str
    size: tuple[int, int]
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __len__(self) -> int:
        return len(self.plan.entries)

    @property
    def planned_labels(self) -> list[str]:
        """The labels of the planned candidates (before decoding), sorted, without ``""``."""
        return sorted({e.label for e in self.plan.entries if e.label})

    @property
    def extra_columns(self) -> list[str]:
        """The manifest's extra columns (e.g. ``fitzpatrick``), known before any image is read."""
        return [] if self.plan.extra is None else [str(c) for c in self.plan.extra.columns]

    def decode(self, indices: Sequence[int]) -> list[Decoded]:
        """The candidates ``indices`` decoded at ``size`` (unusable ones carry their reason)."""
        with decoding_warnings():
            return [decode_entry(self.plan.entries[i], self.size, self.max_pixels)
                    for i in indices]

    def dataset(self, decoded: Sequence[Decoded]) -> Dataset:
        """The dataset once every candidate was decoded (``decoded`` in candidate order)."""
        return assemble_dataset(self.plan, list(decoded), path=self.path, size=self.size)


@dataclass(frozen=True)
class ArraySource:
    """Arrays given to the Python API (``harness.data.arrays``)."""

    plan: ArrayPlan
    size: tuple[int, int]

    def __len__(self) -> int:
        return len(self.plan.kept)

    @property
    def planned_labels(self) -> list[str]:
        return sorted({self.plan.data.labels[i] for i in self.plan.kept if self.plan.data.labels[i]})

    @property
    def extra_columns(self) -> list[str]:
        extra = self.plan.data.extra
        return [] if extra is None else [str(c) for c in extra.columns]

    def decode(self, indices: Sequence[int]) -> list[Decoded]:
        return [decode_array(self.plan.data, self.plan.kept[i], self.size) for i in indices]

    def dataset(self, decoded: Sequence[Decoded]) -> Dataset:
        return assemble_arrays(self.plan, list(decoded))


ImageSource = Union[FileSource, ArraySource]


def open_source(data: str | Path | ArrayData, *, size: tuple[int, int],
                allowed_labels: Sequence[str] | None, data_root: Path | None) -> ImageSource:
    """Plan ``data`` (a path or :class:`ArrayData`) at the model's ``size``; bad paths, manifests
    and labels raise ``UserError`` here, before any image is decoded."""
    size = (int(size[0]), int(size[1]))
    if isinstance(data, ArrayData):
        return ArraySource(plan_arrays(data, allowed_labels=allowed_labels), size)
    plan = plan_dataset(data, allowed_labels=allowed_labels, data_root=data_root)
    return FileSource(plan, str(data), size)
