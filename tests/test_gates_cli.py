"""``harness gate RUN_DIR --gates G``: exit codes, the JUnit file, and no TensorFlow."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from gates_runs import make_pair  # noqa: E402
from harness import cli  # noqa: E402
from harness.results.io import read_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    base, _ = make_pair(tmp_path_factory.mktemp("gate_cli_runs"), n_boot=200)
    return base


def gate_file(tmp_path, *gates) -> Path:
    path = tmp_path / "gates.yaml"
    path.write_text(yaml.safe_dump({"gates": list(gates)}), encoding="utf-8")
    return path


def junit(run_dir) -> ET.Element:
    return ET.parse(run_dir / "junit.xml").getroot()


def test_failing_gate_exits_1_with_the_number_in_junit(run_dir, tmp_path, capsys):
    gates = gate_file(tmp_path, {"name": "sensitivity gap at most 0.10", "metric": "sensitivity",
                                 "scope": "group_gap", "max": 0.10},
                      {"name": "auc floor", "metric": "roc_auc", "min": 0.5})
    assert cli.main(["gate", str(run_dir), "--gates", str(gates)]) == 1
    err = capsys.readouterr().err
    gap = read_results(run_dir)["metrics"]["groupings"]["group"]["variants"]["clean"]["gaps"][
        "metrics"]["sensitivity"]["difference"]
    root = junit(run_dir)
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("2", "1", "0")
    failures = root.findall(".//failure")
    assert len(failures) == 1
    f = failures[0]
    assert f.get("type") == "FAIL"
    number = f"{gap['value']:.3f}"
    assert number in f.get("message")
    assert f"[{gap['ci'][0]:.3f}, {gap['ci'][1]:.3f}]" in f.get("message")
    assert "max 0.1" in f.get("message")
    assert f"value: {gap['value']!r}" in f.text and "bound: {'max': 0.1}" in f.text
    assert number in err and "gates FAILED" in err
    names = [c.get("name") for c in root.iter("testcase")]
    assert any(n.startswith("sensitivity gap at most 0.10 · sensitivity · group_gap") for n in names)


def test_passing_gate_exits_0(run_dir, tmp_path):
    results = read_results(run_dir)
    auc = results["metrics"]["groupings"]["group"]["variants"]["clean"]["overall"]["metrics"][
        "roc_auc"]
    gates = gate_file(tmp_path, {"name": "auc", "metric": "roc_auc", "min": auc["ci"][0] - 0.01})
    assert cli.main(["gate", str(run_dir), "--gates", str(gates), "--quiet"]) == 0
    root = junit(run_dir)
    assert root.get("failures") == "0" and root.find(".//failure") is None
    assert root.find(".//property[@name='passed']").get("value") == "true"


def test_warn_passes_unless_strict(run_dir, tmp_path):
    results = read_results(run_dir)
    auc = results["metrics"]["groupings"]["group"]["variants"]["clean"]["overall"]["metrics"][
        "roc_auc"]
    gates = gate_file(tmp_path, {"name": "auc", "metric": "roc_auc",
                                 "min": (auc["value"] + auc["ci"][1]) / 2})
    assert cli.main(["gate", str(run_dir), "--gates", str(gates), "--quiet"]) == 0
    out = junit(run_dir).find(".//system-out")
    assert out is not None and out.text.startswith("WARN auc")
    assert cli.main(["gate", str(run_dir), "--gates", str(gates), "--strict", "--quiet"]) == 1
    f = junit(run_dir).find(".//failure")
    assert f.get("type") == "WARN" and f"{auc['value']:.3f}" in f.get("message")


def test_insufficient_is_skipped_and_does_not_fail(run_dir, tmp_path):
    gates = gate_file(tmp_path, {"name": "tiny sensitivity", "metric": "sensitivity",
                                 "scope": "each_group", "min": 0.0})
    assert cli.main(["gate", str(run_dir), "--gates", str(gates), "--strict", "--quiet"]) == 0
    root = junit(run_dir)
    skipped = root.findall(".//skipped")
    assert len(skipped) == 1 and "too few to judge: 12 images" in skipped[0].get("message")
    assert root.get("skipped") == "1"


def test_gate_command_imports_no_tensorflow(run_dir, tmp_path):
    """Re-checking gates reads results.json only: no TensorFlow, Keras, scikit-learn, plotting or
    image libraries in the process."""
    gates = REPO / "configs" / "gates" / "ci-default.yaml"
    code = ("import json, sys, time; t0 = time.perf_counter(); from harness.cli import main; "
            f"rc = main(['gate', {str(run_dir)!r}, '--gates', {str(gates)!r}, '--quiet']); "
            "print(json.dumps({'rc': rc, 'seconds': time.perf_counter() - t0, "
            "'modules': sorted(sys.modules)}))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["rc"] == 1          # the baseline's planted bias fails the default gates
    mods = set(report["modules"])
    heavy = {"tensorflow", "keras", "torch", "jax", "sklearn", "fairlearn", "matplotlib", "cv2",
             "scipy", "harness.models.open", "perturbations"}
    # the metric catalogue (names and directions) is plain Python; no metric computation loads
    heavy |= {m for m in mods if m.startswith("harness.metrics.") and m != "harness.metrics.catalogue"}
    assert not (heavy & mods), sorted(heavy & mods)
    assert (run_dir / "junit.xml").is_file()
