"""What a perturbation family is: its parameter table, its pure kernel, and how it is applied.

Every family module (``brightness.py``, ``blur.py``, ...) declares its families as
:class:`FamilySpec` values; :mod:`perturbations.registry` collects them. The table is the one place
where a family's physical parameters are defined: severity (1..5) -> keyword arguments of the
kernel, which are also what ``Variant.requested`` reports. Severity 0 is the identity and has no
row: :func:`perturbations.apply` returns a copy of the input for it without calling the kernel.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

KINDS = ("colour", "blur", "noise", "compression", "occlusion")


def check_batch(images: np.ndarray) -> None:
    """A kernel's input: a uint8 numpy batch (N, H, W, 3); ``TypeError`` / ``ValueError`` else."""
    if not isinstance(images, np.ndarray):
        raise TypeError(f"images: expected a numpy array, got {type(images).__name__}")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            "images: expected a uint8 batch of shape (N, H, W, 3), "
            f"got dtype {images.dtype} shape {images.shape}"
        )


def seed_sampler(name: str = "noise_seeds"):
    """The ``sample`` of a family that draws per image: each image's own generator seed (from
    ``registry.image_seeds``), passed to the kernel as the uint64 array ``name``."""
    def sample(params, seeds: np.ndarray) -> dict:
        return {name: np.asarray(seeds, dtype=np.uint64)}

    return sample


@dataclass(frozen=True)
class FamilySpec:
    """One perturbation family.

    Attributes
    ----------
    name : str
        The family's name as used in variant names (``f"{name}@{severity}"``).
    kernel : callable
        Pure function ``kernel(images, **params) -> images`` on a uint8 batch (N, H, W, 3).
        Regional families also take ``masks=`` (bool (N, H, W) or None); CIELAB families take
        ``lab=`` (the batch's float32 CIELAB, computed by the kernel when None).
    table : mapping
        severity (1..5) -> the physical parameters passed to the kernel.
    version : int
        Bumped whenever the kernel's output changes; part of every cache key.
    kind : str
        ``"colour"``, ``"blur"``, ``"noise"``, ``"compression"`` or ``"occlusion"``: which achieved
        measures matter (ΔL*, Δa*, Δb*, ΔITA for colour; the high-frequency loss for blur, noise and
        compression; the area covered for an artefact or text laid over the skin, occlusion).
    uses_mask : bool
        The kernel acts on the masked region (whole image when masks are None).
    uses_lab : bool
        The kernel works in CIELAB and accepts a precomputed ``lab=``.
    sample : callable or None
        Stochastic families only: ``sample(params, seeds) -> extra kernel kwargs``, where ``seeds``
        is one uint64 per image derived from (seed, family, severity, image id). The kernel stays a
        pure function of the images and these kwargs.
    credit : str
        Where the parameters come from, when they are someone else's.
    summary : str
        One line: what the family varies in physical terms and what its parameters mean
        (``harness perturbations`` prints it above the table).
    """

    name: str
    kernel: Callable[..., np.ndarray]
    table: Mapping[int, Mapping[str, Any]]
    version: int = 1
    kind: str = "colour"
    uses_mask: bool = False
    uses_lab: bool = False
    sample: Callable[[Mapping[str, Any], np.ndarray], dict] | None = None
    credit: str = ""
    summary: str = ""

    def __post_init__(self) -> None:
        if not self.summary.strip() or "\n" in self.summary:
            raise ValueError(f"{self.name}: summary must be one non-empty line, got "
                             f"{self.summary!r}")
        if sorted(self.table) != [1, 2, 3, 4, 5]:
            raise ValueError(f"{self.name}: table must define severities 1..5, got {sorted(self.table)}")
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def stochastic(self) -> bool:
        return self.sample is not None
