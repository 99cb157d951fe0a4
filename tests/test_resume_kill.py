"""A ``harness run`` killed with SIGKILL loses nothing it finished, and two runs can share a cache.

Real subprocesses (``python -m harness run``) audit 24 DermNet NZ test photographs (a manifest under
``tmp_path`` pointing into the data) with a plain-numpy model written under ``tmp_path``: mean red,
slowed by a sleep per call so that a run can be killed while it predicts, and logging how many
images each call received to the file named by ``$DT_TEST_CALLS`` (not part of the model's hash).

- A run killed (SIGKILL, no clean-up) midway through its predictions, with some of them on disk
  as cache segments, writes no results; it lost at most the batch it was storing. The same
  command run again finishes, computes only what no segment held, and writes
  the results of an uninterrupted run on a fresh cache (``results.json`` apart from ``timings``,
  ``samples.csv`` byte for byte).
- Two runs started at once on one empty cache both finish with those same results.

``timings`` is the only part of ``results.json`` that depends on time: the document has no
creation time, host or process id, and ``config`` leaves out ``out`` and ``cache_dir``.
"""
from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
PER_CLASS = 12
BATCH = 4
SLEEP_S = 0.1  # per model call: the whole run predicts 5 variants x 6 batches
#: Kill once the model has returned this many of the run's 120 predictions (and some are in the
#: cache): 11 batches, halfway through the first perturbed variant, so that a run storing its
#: predictions only at the end of a variant would lose some.
KILL_AFTER_IMAGES = 44

MODEL = f'''"""Mean red / 255, slowed per call; logs each call's image count to $DT_TEST_CALLS."""
import os
import time

import numpy as np


def slow_red(images):
    time.sleep({SLEEP_S})
    p = images[..., 0].astype(np.float64).mean(axis=(1, 2)) / 255.0
    log = os.environ.get("DT_TEST_CALLS")
    if log:  # one O_APPEND write per call: lines of concurrent writers never interleave
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{{len(images)}}\\n".encode())
        finally:
            os.close(fd)
    return p
'''

SIDECAR = {"class_names": ["atopic_dermatitis", "eczema"], "positive_class": "eczema",
           "threshold": 0.5, "preprocessing": "none", "input_size": [128, 128]}


def _run_options() -> set[str]:
    """The option strings ``harness run`` accepts on this checkout."""
    from harness.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return {s for action in sub.choices["run"]._actions for s in action.option_strings}


@pytest.fixture(scope="module")
def setup(dermnet_test, tmp_path_factory):
    """The model module and its sidecar, the manifest, and ``argv(out, cache)``."""
    base = tmp_path_factory.mktemp("resume_kill")
    (base / "slow_red.py").write_text(MODEL, encoding="utf-8")
    (base / "slow_red.json").write_text(json.dumps(SIDECAR), encoding="utf-8")
    rows = [{"path": f"{label}/{f.name}", "label": label}
            for label in ("atopic_dermatitis", "eczema")
            for f in sorted((dermnet_test / label).glob("*.jpg"))[:PER_CLASS]]
    pd.DataFrame(rows).to_csv(base / "audit.csv", index=False)
    # Streamed in chunks where the pipeline does it, so that the kill lands between chunks too.
    options = _run_options()
    chunked = ["--chunk-size", "8"] if "--chunk-size" in options else []

    def argv(out: Path, cache: Path) -> list[str]:
        return [sys.executable, "-m", "harness", "run", "--model", f"{base / 'slow_red.py'}:slow_red",
                "--data", str(base / "audit.csv"), "--data-root", str(dermnet_test),
                "--out", str(out), "--cache", str(cache), "--gradcam", "none",
                "--perturbations", "brightness_up,blur", "--severities", "1,2",
                "--batch-size", str(BATCH), "--n-boot", "100", "--quiet", *chunked]

    # Batches that may be in the model when the run is killed: one, or one per worker thread.
    in_flight = 2 if "--workers" in options else 1
    return {"base": base, "argv": argv, "n": 2 * PER_CLASS, "in_flight": in_flight}


def _env(calls: Path) -> dict[str, str]:
    path = [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(path), DT_TEST_CALLS=str(calls))


def _start(argv: list[str], calls: Path) -> subprocess.Popen:
    return subprocess.Popen(argv, cwd=REPO, env=_env(calls), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> None:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err


def _images_predicted(calls: Path) -> int:
    """Images the model was called on, from its log (0 when it was never called)."""
    return sum(int(x) for x in calls.read_text().split()) if calls.exists() else 0


def _cached_predictions(cache: Path) -> int:
    """Prediction entries in the cache's segments, read from their headers (namespaces
    ``<model hash>/<variant>``; not ``<hash>/#output_kind`` nor ``achieved/...``)."""
    n = 0
    for seg in cache.rglob("*.seg"):
        try:
            data = seg.read_bytes()
        except FileNotFoundError:  # merged into another segment meanwhile
            continue
        (hlen,) = struct.unpack_from("<I", data, 8)  # after the 8-byte magic
        header = json.loads(data[12:12 + hlen])
        ns = header["namespace"]
        if not ns.startswith("achieved/") and not ns.endswith("/#output_kind"):
            n += len(header["entries"])
    return n


def _outputs(run: Path) -> tuple[dict, bytes]:
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    results.pop("timings")
    return results, (run / "samples.csv").read_bytes()


@pytest.fixture(scope="module")
def uninterrupted(setup):
    """The command run once to the end on a fresh cache: (results without timings, samples.csv
    bytes, images the model was called on)."""
    base = setup["base"]
    proc = _start(setup["argv"](base / "full", base / "cache-full"), base / "calls-full")
    _finish(proc)
    return (*_outputs(base / "full"), _images_predicted(base / "calls-full"))


def test_a_killed_run_resumes_from_every_finished_batch(setup, uninterrupted):
    base, argv = setup["base"], setup["argv"]
    results, samples, full_images = uninterrupted
    n_variants = 1 + len(results["perturbations"]["variants"])
    assert full_images == setup["n"] * n_variants == 120  # every image once per variant

    cache, out = base / "cache-kill", base / "killed"
    proc = _start(argv(out, cache), base / "calls-killed")
    deadline = time.monotonic() + 120
    calls = base / "calls-killed"
    while _images_predicted(calls) < KILL_AFTER_IMAGES or not _cached_predictions(cache):
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "too few predictions after 120 s"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "results.json").exists() and not (out / "samples.csv").exists()

    kept = _cached_predictions(cache)
    killed_images = _images_predicted(calls)
    assert 0 < kept < full_images
    # Every batch the model finished is in the cache, except those being written when killed.
    assert kept <= killed_images <= kept + BATCH * setup["in_flight"]

    proc = _start(argv(out, cache), base / "calls-resumed")
    _finish(proc)
    resumed_images = _images_predicted(base / "calls-resumed")
    assert resumed_images == full_images - kept  # only what no segment held
    assert resumed_images < full_images
    assert _outputs(out) == (results, samples)


def test_two_runs_at_once_on_one_cache_both_finish_with_the_same_results(setup, uninterrupted):
    base, argv = setup["base"], setup["argv"]
    results, samples, full_images = uninterrupted
    cache = base / "cache-shared"
    procs = [_start(argv(base / f"twin{i}", cache), base / f"calls-twin{i}") for i in (0, 1)]
    for proc in procs:
        _finish(proc)
    for i in (0, 1):
        assert _outputs(base / f"twin{i}") == (results, samples)
        assert 0 < _images_predicted(base / f"calls-twin{i}") <= full_images
    # Every writer finished cleanly: no temporary file is left beside the segments.
    assert not [p for p in cache.rglob("*") if p.name.endswith(".tmp")]
    assert _cached_predictions(cache) >= full_images  # both may have stored the same entries
