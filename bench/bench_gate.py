"""Benchmark: ``harness gate RUN_DIR --gates G`` wall time, and what it imports.

Builds a realistic run directory without a model (``sample_run.make_sample_run``: N images,
6 perturbation families x 5 severities, two groupings, Grad-CAM drift), then runs
``python -m harness gate RUN --gates configs/gates/ci-default.yaml`` in a fresh process
``--repeat`` times and prints the wall time (best and median), the time ``evaluate_gates`` takes
in-process, the size of results.json, and whether TensorFlow / pandas / numpy were imported.
Never asserts a timing.

Run: ``.venv/bin/python bench/bench_gate.py [--images 1000] [--repeat 5]``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PROBE = ("import json, sys, time; t0 = time.perf_counter(); from harness.cli import main; "
         "rc = main(['gate', {run!r}, '--gates', {gates!r}, '--quiet']); "
         "print(json.dumps({{'rc': rc, 'in_process_s': time.perf_counter() - t0, "
         "'modules': sorted(sys.modules)}}))")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--gates", default=str(REPO / "configs" / "gates" / "ci-default.yaml"))
    args = ap.parse_args()

    from sample_run import make_sample_run

    with tempfile.TemporaryDirectory(prefix="bench-gate-") as tmp:
        run = Path(tmp) / "run"
        t0 = time.perf_counter()
        make_sample_run(run, n=args.images, n_boot=200, thumbnails=False, gates=False)
        build = time.perf_counter() - t0
        size = (run / "results.json").stat().st_size
        print(f"run directory: {args.images} images, results.json {size / 1e6:.1f} MB "
              f"(built in {build:.1f} s)")

        env = dict(os.environ, NO_ALBUMENTATIONS_UPDATE="1")
        walls, inproc, report = [], [], {}
        for _ in range(args.repeat):
            code = PROBE.format(run=str(run), gates=args.gates)
            t = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                                  text=True, env=env)
            walls.append(time.perf_counter() - t)
            if proc.returncode != 0:
                print(proc.stderr)
                raise SystemExit(proc.returncode)
            report = json.loads(proc.stdout.strip().splitlines()[-1])
            inproc.append(report["in_process_s"])
        mods = set(report["modules"])
        print(f"harness gate (fresh process, python start included): best {min(walls):.3f} s, "
              f"median {statistics.median(walls):.3f} s over {args.repeat} runs; exit code "
              f"{report['rc']}")
        print(f"  from 'import harness.cli' to the verdicts: best {min(inproc):.3f} s, median "
              f"{statistics.median(inproc):.3f} s")
        for name in ("tensorflow", "keras", "sklearn", "matplotlib", "cv2", "scipy", "pandas",
                     "numpy", "yaml"):
            print(f"  imported {name:<11} {'yes' if name in mods else 'no'}")

        from harness.gates.evaluate import evaluate_gates, load_gates
        from harness.results.io import read_results

        results = read_results(run)
        gates = load_gates(args.gates)
        t = time.perf_counter()
        section = evaluate_gates(results, gates)
        dt = time.perf_counter() - t
        print(f"evaluate_gates alone: {dt * 1000:.1f} ms for {len(section['verdicts'])} verdicts "
              f"({len(gates)} gates)")
        t = time.perf_counter()
        json.loads((run / "results.json").read_text(encoding="utf-8"))
        print(f"json.loads(results.json): {(time.perf_counter() - t) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
