"""Benchmark: ``compare_runs`` on two realistic run directories of the same simulated images.

Builds two runs without a model (``sample_run.make_sample_run``, N images, 6 families x 5
severities, two groupings; a weaker and a stronger simulated model on the same images), then times
``compare_runs`` (paired resamples, B = ``--boot``) and ``harness.compare(...).save(...)`` (plus
gates, comparison.json and comparison.html), best and median of ``--repeat``. Never asserts a
timing.

Run: ``.venv/bin/python bench/bench_compare.py [--images 1000] [--boot 1000] [--repeat 3]``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import harness
    from harness.paired.runs import compare_runs
    from sample_run import make_sample_run

    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        for name, skill in (("baseline", 0.6), ("candidate", 1.0)):
            make_sample_run(root / name, n=args.images, n_boot=200, skill=skill, seed=4,
                            thumbnails=False, gradcam=True, gates=False)
        print(f"two runs of {args.images} images built in {time.perf_counter() - t0:.1f} s")
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            comparison = compare_runs(root / "baseline", root / "candidate", n_boot=args.boot)
            times.append(time.perf_counter() - t)
        n_var = len(comparison["variants"])
        n_groupings = len(comparison["groupings"])
        print(f"compare_runs: {args.images} images x {n_var} variants x {n_groupings} groupings, "
              f"B = {args.boot}: best {min(times):.2f} s, median {statistics.median(times):.2f} s")
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            harness.compare(root / "baseline", root / "candidate",
                            gates=REPO / "configs" / "gates" / "ci-default.yaml",
                            n_boot=args.boot).save(root / "cmp")
            times.append(time.perf_counter() - t)
        size = (root / "cmp" / "comparison.json").stat().st_size
        html = (root / "cmp" / "comparison.html").stat().st_size
        print(f"harness.compare + save (+ gates, comparison.json {size / 1e6:.1f} MB, comparison.html "
              f"{html / 1e6:.2f} MB): best {min(times):.2f} s, median {statistics.median(times):.2f} s")


if __name__ == "__main__":
    main()
