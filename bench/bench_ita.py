"""Benchmark: skin-tone estimation images/s at 224 px, and the synthetic-skin generator.

    .venv/bin/python bench/bench_ita.py [--data DIR] [--size 224] [--n 600] [--repeat 3]

Loads the images of DIR (default: Fitzpatrick17k in ../shared/data, else synthetic skin) at
SIZE x SIZE, repeats them up to N, then times ``subgroups.estimate_skin_tone`` with 1 and 2
threads, and its stages on one thread (CIELAB conversion, the mask, ITA and its spread, the
Fitzpatrick features). Also times ``harness.demo.synthetic.synthetic_images`` (400 images at 96 px).
Prints best-of-REPEAT wall times and CPU seconds per image (steadier on a shared machine);
never asserts anything.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.demo.synthetic import render_synthetic, synthetic_images
from subgroups import estimate_skin_tone, load_config
from subgroups.features import feature_vector
from subgroups.ita import tone_of_mask
from subgroups.lab import rgb_to_lab
from subgroups.mask import analyse_image

DEFAULT_DATA = REPO.parent / "shared" / "data" / "skin_tone_labeled" / "fitzpatrick17k_train"


def best_of(repeat: int, fn) -> tuple[float, float]:
    """(best wall seconds, best process CPU seconds) over ``repeat`` runs."""
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def load_images(data: Path | None, size: int, n: int) -> tuple[np.ndarray, str]:
    if data is not None and data.exists():
        from harness.data.load import load_dataset

        images = load_dataset(data, size=(size, size)).images
        source = f"{data.name} ({len(images)} images)"
    else:
        images = render_synthetic(n=min(n, 200), size=size, seed=0).images
        source = f"synthetic skin ({len(images)} images)"
    reps = int(np.ceil(n / len(images)))
    return np.concatenate([images] * reps)[:n], source


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    images, source = load_images(args.data, args.size, args.n)
    n = len(images)
    cfg = load_config()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"images: {n} at {args.size}x{args.size} from {source}; CPUs available: {cpus}")
    estimate_skin_tone(images[:8], settings=cfg, workers=1)  # warm-up (lookup tables)

    for workers in (1, 2):
        wall, cpu = best_of(args.repeat, lambda w=workers: estimate_skin_tone(images, settings=cfg, workers=w))
        print(f"estimate_skin_tone workers={workers}: {n / wall:7.0f} images/s  "
              f"({1e3 * wall / n:.2f} ms/image wall, {1e3 * cpu / n:.2f} ms/image CPU)")

    results = [analyse_image(im, cfg.mask) for im in images]
    stages = {
        "CIELAB (subgroups.lab)": lambda: [rgb_to_lab(im) for im in images],
        "mask (incl. CIELAB)": lambda: [analyse_image(im, cfg.mask) for im in images],
        "ITA + ita_iqr": lambda: [tone_of_mask(r) for r in results],
        "Fitzpatrick features": lambda: [feature_vector(im, r, cfg.model.features)
                                         for im, r in zip(images, results)],
    }
    print("stages, one thread:")
    for name, fn in stages.items():
        wall, cpu = best_of(args.repeat, fn)
        print(f"  {name:22s} {1e3 * wall / n:6.2f} ms/image wall  {1e3 * cpu / n:6.2f} ms/image CPU")

    wall, cpu = best_of(args.repeat, lambda: synthetic_images(n=400, size=96, seed=0))
    print(f"synthetic_images n=400 size=96: {wall:.2f} s wall, {cpu:.2f} s CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
