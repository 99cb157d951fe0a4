"""``harness.audit`` is ``python -m harness run`` as a Python call: on a folder it writes what the
command writes; a loaded keras.Model audits like its file, arrays like the images they were
decoded from; ``load_run`` reads a run back without TensorFlow.

Real DermNet NZ photographs (a few per class, copied into tmp_path), the tiny Keras net of
tests/model_factories.py at 32 x 32, two deterministic families at severity 1, no Grad-CAM.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import harness
from model_factories import TINY, tiny_convnet, write_sidecar

REPO = Path(__file__).resolve().parents[1]
PER_CLASS = 8
CLASSES = ("atopic_dermatitis", "eczema")
OPTIONS = dict(perturbations=["blur", "brightness_up"], severities=[1], gradcam="none", n_boot=50,
               cache=None, quiet=True)
GATES = """gates:
  - name: AUC at least 0.3 overall
    metric: roc_auc
    scope: overall
    min: 0.3
  - name: balanced accuracy in every group at least 0.9
    metric: balanced_accuracy
    scope: each_group
    min: 0.9
  - name: blur flips at most 20%
    metric: flip_rate
    scope: overall
    perturbation: blur
    max: 0.2
"""


def without(results: dict, *paths: str) -> dict:
    """A deep copy of ``results`` without ``timings`` and the dotted ``paths``."""
    out = json.loads(json.dumps(results))
    out.pop("timings", None)
    for path in paths:
        *parents, last = path.split(".")
        node = out
        for key in parents:
            node = node[key]
        node.pop(last)
    return out


@pytest.fixture(scope="module")
def setup(dermnet_test, tmp_path_factory):
    """A small class-folder dataset, the tiny model saved with its sidecar, a config that lets
    groups of a few images be judged, and a gate file."""
    root = tmp_path_factory.mktemp("api")
    for label in CLASSES:
        (root / "data" / label).mkdir(parents=True)
        for f in sorted((dermnet_test / label).glob("*.jpg"))[:PER_CLASS]:
            shutil.copy(f, root / "data" / label / f.name)
    model = tiny_convnet(seed=3)
    path = root / "tiny.keras"
    model.save(path)
    sidecar = write_sidecar(path, class_names=list(CLASSES), positive_class="eczema",
                            threshold=0.5, preprocessing="none", input_size=[TINY, TINY])
    (root / "cfg.yaml").write_text("min_group_n: 3\nmin_group_per_class: 1\n")
    (root / "gates.yaml").write_text(GATES)
    return {"root": root, "data": root / "data", "model": path, "sidecar": sidecar,
            "config": root / "cfg.yaml", "gates": root / "gates.yaml"}


@pytest.fixture(scope="module")
def folder_audit(setup):
    return harness.audit(model=str(setup["model"]), data=str(setup["data"]),
                         out=setup["root"] / "api-run", model_spec=str(setup["sidecar"]),
                         config=str(setup["config"]), gates=str(setup["gates"]), **OPTIONS)


def test_audit_on_a_folder_writes_what_harness_run_writes(setup, folder_audit):
    out = setup["root"] / "cli-run"
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--model", str(setup["model"]), "--data",
         str(setup["data"]), "--out", str(out), "--model-spec", str(setup["sidecar"]),
         "--config", str(setup["config"]), "--gates", str(setup["gates"]),
         "--perturbations", "blur,brightness_up", "--severities", "1", "--gradcam", "none",
         "--n-boot", "50", "--cache", "none", "--quiet"],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert proc.returncode in (0, 1), proc.stderr
    api_dir = folder_audit.run_dir
    cli = json.loads((out / "results.json").read_text())
    assert without(folder_audit.results) == without(cli)
    assert folder_audit.results == json.loads((api_dir / "results.json").read_text())
    assert (api_dir / "samples.csv").read_bytes() == (out / "samples.csv").read_bytes()
    assert (api_dir / "junit.xml").read_bytes() == (out / "junit.xml").read_bytes()
    for name in ("report.html", "summary.md", "model_card.md"):
        assert (api_dir / name).is_file(), name
    assert folder_audit.passed == (proc.returncode == 0) == cli["gates"]["passed"]
    # the samples are what reading the file gives, dtypes included
    pd.testing.assert_frame_equal(folder_audit.samples,
                                  pd.read_csv(out / "samples.csv", keep_default_na=False,
                                              na_values=[""]))


def test_metrics_are_the_results_as_a_table(folder_audit):
    results = folder_audit.results
    frame = folder_audit.metrics()
    gr = results["metrics"]["groupings"]["group"]
    cells = gr["variants"]["clean"]
    names = list(results["metrics"]["settings"]["metric_info"])
    assert list(frame.index) == ["overall", *gr["groups"]]
    assert list(frame.columns) == ["status", "n"] + [
        f"{m}{s}" for m in names for s in ("", "_ci_low", "_ci_high")]
    judged = 0
    for row, cell in [("overall", cells["overall"]), *cells["groups"].items()]:
        assert frame.loc[row, "n"] == cell["n"] and frame.loc[row, "status"] == cell["status"]
        for m in names:
            entry = cell["metrics"].get(m)
            if entry is None or entry["value"] is None:
                assert np.isnan(frame.loc[row, m])
                continue
            judged += 1
            assert frame.loc[row, m] == entry["value"]
            if entry["ci"] is not None:
                assert [frame.loc[row, f"{m}_ci_low"], frame.loc[row, f"{m}_ci_high"]] == entry["ci"]
    assert judged > len(names)  # the overall row and at least one group have numbers
    insufficient = [g for g, c in cells["groups"].items() if c["status"] != "ok"]
    assert insufficient, "expected a group too small to judge among 16 images"
    g = insufficient[0]
    # a group too small to judge keeps its estimates (checked against the cell above), marked
    assert frame.loc[g, "status"] == "insufficient"
    assert frame.attrs["reasons"][g]["cell"] == cells["groups"][g]["reason"]
    assert folder_audit.reasons().loc[g, "cell"] == cells["groups"][g]["reason"]
    blur = folder_audit.metrics("group", "blur@1")
    assert blur.loc["overall", "roc_auc"] == \
        gr["variants"]["blur@1"]["overall"]["metrics"]["roc_auc"]["value"]


def test_gates_are_rejudged_from_the_results_alone(setup, folder_audit):
    section = folder_audit.gates(setup["gates"])
    assert section == folder_audit.results["gates"]
    import yaml

    as_list = folder_audit.gates(yaml.safe_load(GATES)["gates"])
    assert [(r["name"], r["verdict"], r["value"]) for r in as_list["verdicts"]] == \
        [(r["name"], r["verdict"], r["value"]) for r in section["verdicts"]]
    strict = folder_audit.gates(setup["gates"], strict=True)
    assert strict["strict"] is True and strict["counts"] == section["counts"]


def test_a_keras_model_object_audits_like_its_file(setup, folder_audit):
    import keras

    loaded = keras.saving.load_model(setup["model"])
    a = harness.audit(model=loaded, data=str(setup["data"]), model_spec=str(setup["sidecar"]),
                      config=str(setup["config"]), gates=str(setup["gates"]), **OPTIONS)
    assert a.run_dir is None
    assert a.results["model"]["format"] == "keras-object"
    assert a.results["model"]["path"] == "tiny" == a.results["config"]["model"]
    fields = ("model.path", "model.format", "model.hash", "config.model")
    assert without(a.results, *fields) == without(folder_audit.results, *fields)
    # the hash is of the architecture and weights: a second copy of the same model has it too
    again = harness.audit(model=keras.saving.load_model(setup["model"]), data=str(setup["data"]),
                          model_spec=str(setup["sidecar"]), perturbations="none", gradcam="none",
                          n_boot=20, cache=None, quiet=True)
    assert again.results["model"]["hash"] == a.results["model"]["hash"]
    assert a.results["model"]["hash"] != folder_audit.results["model"]["hash"]


def test_a_python_callable_audits_like_its_module_function(setup):
    import callable_models
    from harness.models.open import open_model

    opts = dict(OPTIONS, model_spec=str(REPO / "tests" / "callable_models.json"))
    by_name = harness.audit(model=f"{REPO / 'tests' / 'callable_models.py'}:redness",
                            data=str(setup["data"]), **opts)
    by_object = harness.audit(model=callable_models.redness, data=str(setup["data"]), **opts)
    assert by_object.results["model"]["path"] == "callable_models:redness"
    assert by_object.results["model"]["format"] == by_name.results["model"]["format"] == "callable"
    fields = ("model.path", "model.name", "model.hash", "config.model")
    assert without(by_object.results, *fields) == without(by_name.results, *fields)
    # the hash follows the code: stable for one function, different for another
    spec = str(REPO / "tests" / "callable_models.json")
    first = open_model(callable_models.redness, spec_path=spec).hash
    assert open_model(callable_models.redness, spec_path=spec).hash == first
    assert open_model(callable_models.red_over_64, spec_path=spec).hash != first


def test_arrays_audit_like_the_images_they_were_decoded_from(setup, folder_audit):
    from harness.data.decode import decode_image

    files = sorted(p for p in setup["data"].glob("*/*.jpg"))
    images = np.stack([decode_image(f, size=(TINY, TINY)) for f in files])
    labels = [f.parent.name for f in files]
    a = harness.audit(model=str(setup["model"]), data=(images, labels),
                      model_spec=str(setup["sidecar"]), config=str(setup["config"]),
                      gates=str(setup["gates"]), **OPTIONS)
    ds = a.results["dataset"]
    assert ds["root"] == "<arrays>" == a.results["config"]["data"] and ds["layout"] == "arrays"
    assert list(a.samples["file"]) == [f"array/{i:06d}" for i in range(len(files))]
    # the same images, hence the same numbers; only names and the data's provenance differ
    fields = ("dataset.root", "dataset.layout", "dataset.fingerprint", "dataset.image_sizes",
              "config.data")
    mine = json.dumps(without(a.results, *fields))
    theirs = json.dumps(without(folder_audit.results, *fields))
    for i, f in enumerate(files):
        theirs = theirs.replace(json.dumps(f.relative_to(setup["data"]).as_posix()),
                                json.dumps(f"array/{i:06d}"))
    assert json.loads(mine) == json.loads(theirs)
    for col in ("p", "p[blur@1]", "p[brightness_up@1]", "group", "ita"):
        np.testing.assert_array_equal(a.samples[col], folder_audit.samples[col])


def test_save_writes_the_run_and_report_renders_anywhere(folder_audit, tmp_path):
    saved = folder_audit.save(tmp_path / "copy")
    src = folder_audit.run_dir
    for name in ("results.json", "samples.csv", "junit.xml"):
        assert (saved / name).read_bytes() == (src / name).read_bytes(), name
    thumbs = sorted(p.relative_to(src).as_posix() for p in (src / "thumbs").rglob("*.jpg"))
    assert thumbs and thumbs == sorted(p.relative_to(saved).as_posix()
                                       for p in (saved / "thumbs").rglob("*.jpg"))
    for name in ("report.html", "summary.md", "model_card.md"):
        assert (saved / name).is_file(), name
    page = folder_audit.report(tmp_path / "elsewhere" / "audit.html")
    assert page == tmp_path / "elsewhere" / "audit.html"
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "data:image/jpeg;base64," in text


def test_load_run_imports_no_tensorflow(setup, folder_audit):
    code = (
        "import sys, harness\n"
        f"a = harness.load_run({str(folder_audit.run_dir)!r})\n"
        "m = a.metrics()\n"
        f"g = a.gates({str(setup['gates'])!r})\n"
        "a._repr_html_()\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
        "print(len(m), m.loc['overall', 'roc_auc'], g['counts']['PASS'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    n, auc, passes = proc.stdout.split()
    frame = folder_audit.metrics()
    assert int(n) == len(frame) and float(auc) == pytest.approx(frame.loc["overall", "roc_auc"])
    assert int(passes) == folder_audit.results["gates"]["counts"]["PASS"]


def test_repr_html_escapes_a_hostile_class_name(setup, folder_audit):
    hostile = "<img src=x onerror=alert(1)>"
    images = np.stack([np.full((TINY, TINY, 3), v, dtype=np.uint8) for v in range(60, 220, 10)])
    labels = [hostile if i % 2 else "eczema" for i in range(len(images))]
    a = harness.audit(model=str(setup["model"]), data=(images, labels),
                      class_names=[hostile, "eczema"], positive_class="eczema",
                      perturbations="none", gradcam="none", n_boot=20, cache=None, quiet=True)
    assert a.results["model"]["class_names"] == [hostile, "eczema"]
    page = a._repr_html_()
    assert hostile not in page and html_escaped(hostile) in page
    assert "<table>" in page and "balanced accuracy" in page
    summary = folder_audit._repr_html_()
    assert "tiny" in summary and "gates" in summary and "roc_auc" in summary


def html_escaped(text: str) -> str:
    import html

    return html.escape(text)


def test_compare_takes_audits_or_their_folders(setup, folder_audit, tmp_path):
    import keras

    other = harness.audit(model=keras.saving.load_model(setup["model"]), data=str(setup["data"]),
                          model_spec=str(setup["sidecar"]), config=str(setup["config"]), **OPTIONS)
    in_memory = harness.compare(folder_audit, other, n_boot=30)
    assert in_memory.results["candidate"]["run"] == "<candidate audit>"
    saved = other.save(tmp_path / "other")
    on_disk = harness.compare(str(folder_audit.run_dir), saved, n_boot=30)
    fields = ("candidate.run",)
    assert without(in_memory.results, *fields) == without(on_disk.results, *fields)
    deltas = in_memory.deltas("group", "balanced_accuracy")
    assert deltas.loc["overall", "delta"] == 0.0  # the same model on the same images
    assert deltas.loc["overall", "baseline"] == \
        folder_audit.metrics().loc["overall", "balanced_accuracy"]
    gate = [{"name": "no regression", "metric": "balanced_accuracy", "scope": "overall",
             "max_regression": 0.0}]
    section = in_memory.gates(gate)
    assert section["passed"] and section["counts"]["PASS"] == 1
    judged = harness.compare(folder_audit, other, n_boot=30, gates=gate)
    out = judged.save(tmp_path / "cmp")
    for name in ("comparison.json", "comparison.html", "junit.xml"):
        assert (out / name).is_file(), name
    assert json.loads((out / "comparison.json").read_text())["gates"] == section
    assert "balanced accuracy" in judged._repr_html_()
