"""Decoding throughput: images/s of ``load_dataset`` on a folder of real images.

Usage: .venv/bin/python bench/bench_decode.py [DATA] [--size 224] [--repeats 3]

DATA defaults to ../shared/data/dermnetnz_eczema_ad/test (108 DermNet NZ JPEGs, 640x480).
Prints images/s with 1 thread and with the default thread count, and the same for a full-scale
JPEG decode (no reduced-scale ``draft``) to show what reduced-scale decoding buys, plus how far the
two decodes differ. Prints numbers only; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.data.load import _available_cpus, load_dataset  # noqa: E402
from harness.data.decode import decode_bytes  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "dermnetnz_eczema_ad" / "test"


def _rate(fn, n: int, repeats: int) -> tuple[float, float, float]:
    """Median and best images/s (wall clock) and median images per CPU-second over ``repeats``.

    CPU-seconds count every thread of this process; on a shared machine they say more about the
    code than the wall clock does.
    """
    rates, cpu_rates = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        rates.append(n / (time.perf_counter() - start))
        cpu_rates.append(n / max(time.process_time() - cpu_start, 1e-9))
    return statistics.median(rates), max(rates), statistics.median(cpu_rates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    size = (args.size, args.size)
    threads = _available_cpus()

    first = load_dataset(args.data, size=size)  # also warms the file cache
    n = len(first)
    print(f"data: {args.data}  ({n} images, {len(first.skipped)} skipped, "
          f"sizes {first.summary()['image_sizes']})")
    print(f"target size: {size[0]}x{size[1]}   default threads: {threads}   "
          f"load average: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")

    for workers in sorted({1, threads}):
        med, best, cpu = _rate(lambda: load_dataset(args.data, size=size, workers=workers), n,
                               args.repeats)
        print(f"load_dataset, {workers} thread(s): {med:8.1f} images/s median  "
              f"({best:.1f} best of {args.repeats}; {cpu:.1f} images per CPU-second)")

    blobs = [(Path(first.root) / f).read_bytes() for f in first.files]
    for draft in (True, False):
        for workers in sorted({1, threads}):
            def run() -> list:
                with ThreadPoolExecutor(workers) as pool:
                    return list(pool.map(lambda b: decode_bytes(b, size=size, draft=draft), blobs))
            med, best, cpu = _rate(run, n, args.repeats)
            label = "reduced-scale JPEG (draft)" if draft else "full-scale JPEG           "
            print(f"decode_bytes only, {label}, {workers} thread(s): {med:8.1f} images/s median  "
                  f"({best:.1f} best; {cpu:.1f} images per CPU-second)")

    fast = np.stack([decode_bytes(b, size=size, draft=True)[0] for b in blobs]).astype(np.int16)
    full = np.stack([decode_bytes(b, size=size, draft=False)[0] for b in blobs]).astype(np.int16)
    diff = np.abs(fast - full)
    print(f"draft vs full-scale decode: mean |diff| {diff.mean():.3f} grey levels, "
          f"99th percentile {np.percentile(diff, 99):.0f}, max {diff.max()}")
    again = np.stack([decode_bytes(b, size=size, draft=True)[0] for b in blobs])
    print(f"draft decode repeatable (bit-identical on a second pass): "
          f"{bool(np.array_equal(again, fast.astype(np.uint8)))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
