"""How an audit reports its time and its progress: seconds per stage, and progress bars."""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from tqdm import tqdm


@dataclass
class Timer:
    """Wall-clock seconds per stage (the only part of results.json allowed to vary).

    A stage entered several times (e.g. ``"predict"`` once per variant) adds up.
    """

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            total = self.seconds.get(name, 0.0) + time.perf_counter() - t0
            self.seconds[name] = round(total, 4)


def progress_bar(items: Sequence, *, progress: bool, desc: str, unit: str = "variant"):
    """``items``, behind a tqdm bar when ``progress`` is on and there is something to show."""
    if not progress or not items:
        return items
    return tqdm(items, desc=desc, unit=unit, leave=False)
