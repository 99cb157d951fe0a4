"""``--quiet`` means nothing on stderr for a successful audit, TensorFlow's start-up lines included.

TensorFlow prints them from the main thread while ``import tensorflow`` loads its C++ runtime
(at the model's first prediction), unless ``TF_CPP_MIN_LOG_LEVEL`` is at least 1 in the process
environment at that moment. The command line sets it at its boundary, before any import; a value
TensorFlow reads as 0 (set but empty, ``0``) used to be kept as it was, and ``harness.audit`` did
not set it at all. A real Keras model (the tiny net of tests/model_factories.py, saved with its
sidecar), four real DermNet NZ photographs, Grad-CAM on; nothing on stderr is filtered.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from model_factories import TINY, tiny_convnet, write_sidecar

REPO = Path(__file__).resolve().parents[1]
CLASSES = ("atopic_dermatitis", "eczema")


@pytest.fixture(scope="module")
def model_and_data(dermnet_test, tmp_path_factory):
    root = tmp_path_factory.mktemp("quiet")
    for name in CLASSES:
        (root / "data" / name).mkdir(parents=True)
        for src in sorted((dermnet_test / name).glob("*.jpg"))[:2]:
            shutil.copy(src, root / "data" / name / src.name)
    model = root / "tiny.keras"
    tiny_convnet().save(model)
    write_sidecar(model, class_names=list(CLASSES), positive_class="eczema",
                  preprocessing="none", input_size=[TINY, TINY])
    return root, model


def _env(level: str | None) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    return env


@pytest.mark.parametrize("level, attempts",
                         [(None, ("uncached", "cached")), ("0", ("uncached",))],
                         ids=["unset", "zero"])
def test_quiet_run_prints_nothing_on_stderr_uncached_and_cached(model_and_data, level, attempts):
    # A cached run whose heatmaps are all cached never imports TensorFlow; the uncached run is
    # the one that loads it.
    root, model = model_and_data
    out, cache = root / f"run-{level}", root / f"cache-{level}"
    argv = [sys.executable, "-m", "harness", "run", "--model", str(model), "--data",
            str(root / "data"), "--out", str(out), "--cache", str(cache), "--quiet",
            "--perturbations", "blur", "--severities", "1", "--n-boot", "20"]
    for attempt in attempts:
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600,
                              env=_env(level))
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == "", f"{attempt} run wrote to stderr:\n{proc.stderr}"
        assert proc.stdout.strip() == str(out / "report.html")
    assert (out / "results.json").is_file()


def test_quiet_audit_from_python_prints_nothing_on_stderr(model_and_data):
    root, model = model_and_data
    code = ("import harness; a = harness.audit(model=%r, data=%r, out=None, cache=None, "
            "quiet=True, perturbations=['blur'], severities=[1], n_boot=20); "
            "print(a.results['gradcam']['available'])") % (str(model), str(root / "data"))
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env=_env(None))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.strip() == "True"  # Grad-CAM ran: TensorFlow was imported and used


@pytest.mark.parametrize("given, quiet, expected", [
    (None, False, "2"), ("", False, "2"), ("x", False, "2"), ("0", False, "0"),
    ("3", False, "3"), (None, True, "2"), ("0", True, "2"), ("1", True, "2"), ("3", True, "3"),
])
def test_the_log_level_the_command_line_leaves_for_tensorflow(monkeypatch, given, quiet,
                                                              expected):
    from harness.environment import prepare_libraries, quiet_tensorflow

    if given is None:
        monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", given)
    monkeypatch.setenv("MPLBACKEND", "module://my_backend")
    prepare_libraries(quiet=quiet)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == expected
    assert os.environ["MPLBACKEND"] == "module://my_backend"  # a user's choice is kept
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    quiet_tensorflow(force=False)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"


def test_startup_filter_drops_tensorflow_notices_and_keeps_errors():
    from harness.environment import drop_startup_lines
    text = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            "I0000 00:00:1796394201.748874    9802 port.cc:153] oneDNN custom operations are on.\n"
            "W0000 00:00:1796394201.75    9802 cpu_feature_guard.cc:12] This binary is optimized\n"
            "E0000 00:00:1796394201.76    9802 loader.cc:7] could not load libcuda\n"
            "UserWarning: a Python warning\n")
    assert drop_startup_lines(text) == ("E0000 00:00:1796394201.76    9802 loader.cc:7] could not load "
                                        "libcuda\nUserWarning: a Python warning\n")
