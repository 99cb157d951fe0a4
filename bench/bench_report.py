"""Benchmark: render the report of a 500-image audit (goal: under 3 s and under 10 MB).

A simulated audit (``sample_run``: real ``audit_metrics`` on simulated predictions, six
perturbation families at five severities, Grad-CAM drift summaries, gates) with 500 thumbnails is
written once; then ``render_report`` is timed. Prints seconds, the file's size and what it embeds.

    .venv/bin/python bench/bench_report.py [--n 500] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reports.fmt import human_size  # noqa: E402
from reports.render import render_report  # noqa: E402
from sample_run import FAMILIES, make_sample_run  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="images in the simulated audit")
    ap.add_argument("--repeat", type=int, default=3, help="timed renders")
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples in the metrics")
    ap.add_argument("--keep", default=None, help="write the run here instead of a temporary folder")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        run = Path(args.keep) if args.keep else Path(tmp) / "run"
        t0 = time.perf_counter()
        make_sample_run(run, n=args.n, n_boot=args.n_boot, families=tuple(FAMILIES), seed=0)
        build_s = time.perf_counter() - t0
        thumbs = list((run / "thumbs").rglob("*.jpg"))
        thumb_bytes = sum(p.stat().st_size for p in thumbs)
        print(f"simulated audit: {args.n} images, {len(FAMILIES)} families x 5 severities, "
              f"n_boot={args.n_boot}; built in {build_s:.1f} s")
        print(f"thumbnails: {len(thumbs)} files, {human_size(thumb_bytes)} on disk")

        # The first render pays for importing matplotlib and Jinja2 (as the CLI does once).
        t0 = time.perf_counter()
        path = render_report(run)
        first = time.perf_counter() - t0
        times, cpu = [], []
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            path = render_report(run)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        page = path.read_text(encoding="utf-8")
        size = path.stat().st_size
        print(f"render_report, first call (imports included): {first:.2f} s")
        print(f"render_report, warm: wall min {min(times):.2f} s, median {statistics.median(times):.2f} s; "
              f"CPU min {min(cpu):.2f} s (over {len(times)} runs)")
        print(f"report.html: {size} bytes ({human_size(size)}); embeds "
              f"{page.count('data:image/jpeg;base64,')} JPEG thumbnails and "
              f"{page.count('data:image/svg+xml;base64,')} SVG plots")
        print(f"summary.md: {human_size((run / 'summary.md').stat().st_size)}, "
              f"model_card.md: {human_size((run / 'model_card.md').stat().st_size)}")
        print(f"load average while measuring: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
              f"on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
