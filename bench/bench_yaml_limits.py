"""Benchmark: how fast a hostile YAML file is refused, and what an ordinary one costs to read.

    .venv/bin/python bench/bench_yaml_limits.py [--memory-mb 1024]

Writes, in a temporary folder, a "billion laughs" file (nine anchors, each a list of nine aliases
of the one before: 9**9 strings once expanded) as a gate file and as an audit config, then times
``harness gate RUN --gates bomb.yaml`` and ``harness run --config bomb.yaml ...`` in subprocesses
whose address space is limited to MEMORY_MB, and ``harness.yaml_file.parse_yaml`` in process on the
bomb and on the packaged ``configs/skin_tone.yaml``. Prints exit codes, wall seconds and the first
line of standard error; never asserts anything.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def laughs(indent: str) -> str:
    rows = [f"{indent}- &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    rows += [f"{indent}- &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 9) + "]"
             for i in range(1, 9)]
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--memory-mb", type=int, default=1024)
    args = ap.parse_args(argv)
    from harness.yaml_file import parse_yaml
    from sample_run import make_sample_run

    limit = args.memory_mb << 20
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        gate = tmp / "bomb_gates.yaml"
        gate.write_text("gates:\n  - metric: roc_auc\n    scope: overall\n    min: 0.5\n    name:\n"
                        + laughs("      "))
        config = tmp / "bomb_config.yaml"
        config.write_text("perturbations:\n" + laughs("  "))
        run_dir = tmp / "run"
        make_sample_run(run_dir, n=120, n_boot=50, thumbnails=False, gradcam=False)
        (tmp / "data").mkdir()
        commands = {
            "harness gate --gates bomb": ["gate", str(run_dir), "--gates", str(gate)],
            "harness run --config bomb": ["run", "--model", "tests.callable_models:none", "--data",
                                          str(tmp / "data"), "--out", str(tmp / "out"), "--config",
                                          str(config), "--cache", "none", "--quiet"],
        }
        for name, cmd in commands.items():
            t = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "harness", *cmd], cwd=REPO, env=env,
                                  capture_output=True, text=True, timeout=600,
                                  preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
            first = (proc.stderr.strip().splitlines() or [""])[0]
            print(f"{name} (address space {args.memory_mb} MB): exit {proc.returncode} after "
                  f"{time.perf_counter() - t:.2f} s: {first[:160]}")
        text = gate.read_text()
        t = time.perf_counter()
        try:
            parse_yaml(text, source="bomb")
        except Exception as exc:  # noqa: BLE001 - the refusal is what is timed
            print(f"parse_yaml(bomb): refused after {1e3 * (time.perf_counter() - t):.2f} ms "
                  f"({type(exc).__name__})")
    tone = (REPO / "configs" / "skin_tone.yaml").read_text()
    t = time.perf_counter()
    for _ in range(10):
        parse_yaml(tone, source="skin_tone.yaml")
    print(f"parse_yaml(configs/skin_tone.yaml, {len(tone):,} bytes): "
          f"{1e3 * (time.perf_counter() - t) / 10:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
