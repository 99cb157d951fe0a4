"""Training runs shared by the ``tests/test_train_*.py`` files, each done once per session.

The synthetic data set has ``train/`` and ``test/`` (``harness.demo.synthetic``: two lesion kinds on
skin of known tone). Every run made here records the paths the process opened or listed while it
trained (a ``sys.addaudithook`` hook), so that a test can check that ``test/`` was never touched.
"""
from __future__ import annotations

import atexit
import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path

_SCRATCH: Path | None = None
_RECORDING: list | None = None  # while a run is recorded: the paths seen
_AUDITED = ("open", "os.listdir", "os.scandir", "glob.glob", "os.walk")


def _hook(event: str, args: tuple) -> None:
    if _RECORDING is None or event not in _AUDITED or not args:
        return
    path = args[0]
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if isinstance(path, (str, os.PathLike)):
        _RECORDING.append(os.path.abspath(os.fspath(path)))


sys.addaudithook(_hook)


def scratch() -> Path:
    """A temporary folder for this test session (removed at exit)."""
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = Path(tempfile.mkdtemp(prefix="dermatrace-train-tests-"))
        atexit.register(shutil.rmtree, _SCRATCH, True)
    return _SCRATCH


@functools.lru_cache(maxsize=None)
def synthetic_root(n_train: int = 48, n_test: int = 16, size: int = 64) -> Path:
    """``root/train`` and ``root/test``: synthetic two-class images (different seeds)."""
    from harness.demo.synthetic import make_synthetic_dataset

    root = scratch() / f"syn-{n_train}-{n_test}-{size}"
    make_synthetic_dataset(root / "train", n=n_train, size=size, seed=0)
    make_synthetic_dataset(root / "test", n=n_test, size=size, seed=1)
    return root


def train_recorded(*, data: Path, out: Path, **options) -> tuple[dict, list[str]]:
    """``train_model`` with every opened or listed path recorded; returns (summary, paths)."""
    global _RECORDING
    from harness.train.run import train_model

    seen: list[str] = []
    _RECORDING = seen
    try:
        summary = train_model(data=data, out=out, **options)
    finally:
        _RECORDING = None
    return summary, seen


@functools.lru_cache(maxsize=None)
def trained(recipe: str = "baseline", *, seed: int = 0, backbone_weights: str = "none",
            input_size: int = 64, folds: int = 3, epochs: int | None = None,
            n_train: int = 48, n_test: int = 16) -> tuple[dict, list[str]]:
    """One training run on the synthetic set (cached per arguments): (summary, paths seen)."""
    root = synthetic_root(n_train, n_test, input_size)
    tag = f"{recipe}-s{seed}-{Path(backbone_weights).stem}-{input_size}-k{folds}-e{epochs}"
    out = scratch() / "models" / f"{tag}.keras"
    return train_recorded(data=root, out=out, recipe=recipe, backbone_weights=backbone_weights,
                          seed=seed, input_size=input_size, folds=folds, epochs=epochs)
