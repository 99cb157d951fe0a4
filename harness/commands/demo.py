"""``harness demo``: the whole story on synthetic skin, with no data and no download."""
from __future__ import annotations

from pathlib import Path


def demo(*, out: str, seed: int, cache_dir: Path | None, progress: bool, quiet: bool) -> int:
    from harness.demo.story import run_demo

    return run_demo(out=Path(out), seed=seed, cache_dir=cache_dir, progress=progress, quiet=quiet)
