"""``python -m harness run`` end to end on real DermNet NZ photographs.

Fast tests use a plain-Python model (``tests/callable_models.py:redness``, no TensorFlow); the
Keras tests use the original study's architecture (MobileNetV2 nested as a sub-model, ImageNet
weights from ../shared/data) and check the numbers against the model itself and scikit-learn.
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
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score

REPO = Path(__file__).resolve().parents[1]
CALLABLE = "tests/callable_models.py:redness"


def harness(*args, cwd=REPO, timeout=600, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env)


def clean_metric(results: dict, name: str, grouping: str = "group") -> dict:
    return results["metrics"]["groupings"][grouping]["variants"]["clean"]["overall"]["metrics"][name]


def without_timings(results: dict) -> dict:
    out = dict(results)
    out.pop("timings", None)
    return out


@pytest.fixture(scope="module")
def callable_run(dermnet_test, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "callable"
    cache = out.parent / "cache"
    proc = harness("run", "--model", CALLABLE, "--data", dermnet_test, "--out", out, "--cache", cache,
                   "--perturbations", "redness,blur,brightness_down", "--severities", "1,3,5",
                   "--n-boot", "200", "--quiet")
    assert proc.returncode == 0, proc.stderr
    return out, cache, proc


def test_run_writes_the_three_files(callable_run):
    out, _, proc = callable_run
    for name in ("results.json", "samples.csv", "report.html"):
        assert (out / name).is_file(), name
    assert proc.stdout.strip().endswith("report.html")


def test_metrics_equal_scikit_learn_on_the_predictions(callable_run):
    out, _, _ = callable_run
    results = json.loads((out / "results.json").read_text())
    samples = pd.read_csv(out / "samples.csv")
    assert len(samples) == 108 == results["dataset"]["n_images"]
    y = (samples["label"] == "eczema").astype(int).to_numpy()
    p = samples["p"].to_numpy()
    pred = (p >= results["model"]["threshold"]).astype(int)
    assert clean_metric(results, "accuracy")["value"] == pytest.approx(accuracy_score(y, pred), abs=1e-9)
    assert clean_metric(results, "balanced_accuracy")["value"] == pytest.approx(
        balanced_accuracy_score(y, pred), abs=1e-9)
    assert clean_metric(results, "roc_auc")["value"] == pytest.approx(roc_auc_score(y, p), abs=1e-9)
    assert clean_metric(results, "roc_auc")["n"] == 108
    assert set(samples["pred"]) <= {"eczema", "atopic_dermatitis"}
    assert ((samples["pred"] == "eczema") == (p >= 0.5)).all()


def test_samples_have_the_ladder_and_the_groups(callable_run):
    out, _, _ = callable_run
    samples = pd.read_csv(out / "samples.csv")
    for fam in ("redness", "blur", "brightness_down"):
        for sev in (1, 3, 5):
            assert f"p[{fam}@{sev}]" in samples.columns
    for col in ("file", "label", "p", "pred", "ita", "ita_iqr", "skin_fraction", "group", "fitzpatrick_est"):
        assert col in samples.columns
    # The planted model reads the red channel: a redness perturbation must raise p, monotonically.
    means = [samples["p"].mean()] + [samples[f"p[redness@{s}]"].mean() for s in (1, 3, 5)]
    assert all(b > a for a, b in zip(means, means[1:])), means
    # ...and darkening lowers it.
    assert samples["p[brightness_down@5]"].mean() < samples["p"].mean() - 0.05


def test_p_equals_the_callable_on_the_decoded_images(callable_run, dermnet_test):
    from harness.data.load import load_dataset
    from tests.callable_models import redness

    out, _, _ = callable_run
    samples = pd.read_csv(out / "samples.csv")
    ds = load_dataset(dermnet_test, size=(224, 224))
    assert list(ds.files) == samples["file"].tolist()
    np.testing.assert_allclose(samples["p"].to_numpy(), redness(ds.images), rtol=0, atol=1e-9)


def test_second_run_is_cached_and_identical(callable_run, dermnet_test):
    out, cache, _ = callable_run
    again = out.parent / "again"
    proc = harness("run", "--model", CALLABLE, "--data", dermnet_test, "--out", again, "--cache", cache,
                   "--perturbations", "redness,blur,brightness_down", "--severities", "1,3,5",
                   "--n-boot", "200", "--quiet")
    assert proc.returncode == 0, proc.stderr
    first = json.loads((out / "results.json").read_text())
    second = json.loads((again / "results.json").read_text())
    assert without_timings(first) == without_timings(second)
    assert (out / "samples.csv").read_bytes() == (again / "samples.csv").read_bytes()


def test_report_rerenders_from_results_alone(callable_run):
    out, _, _ = callable_run
    before = (out / "report.html").read_bytes()
    (out / "report.html").unlink()
    proc = harness("report", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert (out / "report.html").read_bytes() == before


def _bad_folder(root: Path, dermnet_test: Path) -> dict[str, str]:
    """Good images in both classes plus one of each kind of bad input; returns file -> reason."""
    for cls in ("eczema", "atopic_dermatitis"):
        (root / cls).mkdir(parents=True)
        for src in sorted((dermnet_test / cls).glob("*.jpg"))[:4]:
            shutil.copy(src, root / cls / src.name)
    good = sorted((dermnet_test / "eczema").glob("*.jpg"))[0].read_bytes()
    (root / "eczema" / "empty.jpg").write_bytes(b"")
    (root / "eczema" / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (root / "eczema" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    (root / "eczema" / "notes.txt").write_text("not an image")
    (root / "eczema" / "text.jpg").write_text("plain text with an image extension")
    (root / "psoriasis").mkdir()
    shutil.copy(sorted((dermnet_test / "eczema").glob("*.jpg"))[1], root / "psoriasis" / "x.jpg")
    (root / "empty_class").mkdir()
    os.symlink("/etc/hostname", root / "eczema" / "escape.jpg")
    return {
        "eczema/empty.jpg": "empty", "eczema/truncated.jpg": "truncated",
        "eczema/corrupt.png": "", "eczema/notes.txt": "not an image",
        "eczema/text.jpg": "", "psoriasis/x.jpg": "unknown label",
        "empty_class/": "empty class folder", "eczema/escape.jpg": "symlink",
    }


def test_bad_inputs_are_named_and_the_good_ones_audited(dermnet_test, tmp_path):
    data = tmp_path / "data"
    expected = _bad_folder(data, dermnet_test)
    proc = harness("run", "--model", CALLABLE, "--data", data, "--out", tmp_path / "run",
                   "--cache", "none", "--perturbations", "blur", "--severities", "1", "--n-boot", "50")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["dataset"]["n_images"] == 8
    skipped = {s["file"]: s["reason"] for s in results["dataset"]["skipped"]}
    for file, reason in expected.items():
        assert file in skipped, f"{file} not reported; got {sorted(skipped)}"
        assert reason in skipped[file], (file, skipped[file])
        assert file.rstrip("/") in proc.stderr  # and named on stderr too


def test_no_usable_image_exits_2_with_one_line(tmp_path):
    data = tmp_path / "data" / "eczema"
    data.mkdir(parents=True)
    (data / "a.jpg").write_bytes(b"")
    proc = harness("run", "--model", CALLABLE, "--data", tmp_path / "data", "--out", tmp_path / "run",
                   "--cache", "none", "--quiet")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_missing_model_exits_2_with_one_line(dermnet_test, tmp_path):
    proc = harness("run", "--model", tmp_path / "missing.keras", "--data", dermnet_test, "--quiet")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "missing.keras" in proc.stderr


@pytest.mark.slow
def test_keras_mobilenet_run_matches_model_and_is_cached(nested_mobilenet, dermnet_subset, tmp_path):
    """The original study's architecture on 40 real test photographs: p is the model's own
    output, accuracy/AUC are scikit-learn's, and a second run never imports TensorFlow."""
    import keras

    from harness.data.load import load_dataset

    out, cache = tmp_path / "run", tmp_path / "cache"
    args = ["run", "--model", nested_mobilenet, "--data", dermnet_subset, "--cache", cache,
            "--perturbations", "blur", "--severities", "3", "--gradcam", "8",
            "--n-boot", "200", "--quiet"]
    proc = harness(*args, "--out", out)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())
    samples = pd.read_csv(out / "samples.csv")

    model = keras.saving.load_model(nested_mobilenet)
    ds = load_dataset(dermnet_subset, size=(224, 224))
    own = np.asarray(model(ds.images.astype("float32"), training=False)).ravel()
    np.testing.assert_allclose(samples["p"].to_numpy(), own, atol=1e-5)
    y = (samples["label"] == "eczema").astype(int)
    assert clean_metric(results, "roc_auc")["value"] == pytest.approx(roc_auc_score(y, samples["p"]), abs=1e-9)
    assert clean_metric(results, "accuracy")["value"] == pytest.approx(
        accuracy_score(y, samples["p"] >= 0.5), abs=1e-9)
    assert results["gradcam"]["available"] is True
    assert results["gradcam"]["n_images"] == 8

    # Second run: everything from the cache, TensorFlow never imported, same results.
    probe = ("import sys, runpy; sys.argv = ['harness'] + sys.argv[1:]\n"
             "from harness.cli import main\n"
             "code = main(sys.argv[1:])\n"
             "print('TF_IMPORTED' if 'tensorflow' in sys.modules else 'TF_NOT_IMPORTED')\n"
             "raise SystemExit(code)\n")
    proc2 = subprocess.run([sys.executable, "-c", probe, *map(str, args), "--out", str(tmp_path / "again")],
                           cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc2.returncode == 0, proc2.stderr
    assert "TF_NOT_IMPORTED" in proc2.stdout
    second = json.loads((tmp_path / "again" / "results.json").read_text())
    assert without_timings(second) == without_timings(results)


def test_tflite_model_goes_through_the_same_command(dermnet_test, tmp_path):
    """A .tflite file (no gradients): audited like any model, explained by occlusion."""
    import tensorflow as tf

    from harness.data.load import load_dataset
    from tests.model_factories import TINY, tiny_convnet, write_sidecar

    keras_model = tiny_convnet()
    saved = tmp_path / "saved"
    keras_model.export(str(saved), verbose=False)
    path = tmp_path / "tiny.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert())
    write_sidecar(path, class_names=["atopic_dermatitis", "eczema"], input_size=[TINY, TINY])
    proc = harness("run", "--model", path, "--data", dermnet_test, "--out", tmp_path / "run",
                   "--cache", "none", "--perturbations", "blur", "--severities", "2",
                   "--gradcam", "12", "--n-boot", "50", "--quiet")
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["model"]["format"] == "tflite"
    g = results["gradcam"]
    assert g["explainer"] == "occlusion" and g["n_images"] == 12 and g["layer"] is None
    identity = g["noise_floor"]["identity"]["overall"]["all"]
    for metric, exact in (("spearman", 1.0), ("cosine", 1.0), ("centroid_shift", 0.0)):
        assert identity[metric]["n"] == 12 and identity[metric]["q25"] == identity[metric]["q75"] \
            == exact, metric
    blur = g["drift"]["blur@2"]["overall"]["all"]
    assert blur["spearman"]["n"] == 12 and blur["spearman"]["median"] < 1.0
    samples = pd.read_csv(tmp_path / "run" / "samples.csv")
    ds = load_dataset(dermnet_test, size=(TINY, TINY))
    own = np.asarray(keras_model(ds.images.astype("float32"), training=False)).ravel()
    np.testing.assert_allclose(samples["p"].to_numpy(), own, atol=1e-5)
    assert "p[blur@2]" in samples.columns


def test_manifest_skin_type_labels_become_groupings(dermnet_test, tmp_path):
    # a manifest with a human Fitzpatrick label: counted, audited as its own grouping, and
    # compared with the estimate from the image
    data = tmp_path / "data"
    rows = []
    for i, src in enumerate(sorted(dermnet_test.glob("*/*.jpg"))[::9][:12]):
        dst = data / src.parent.name / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        rows.append({"path": f"{src.parent.name}/{src.name}", "label": src.parent.name,
                     "fitzpatrick": ["I", "II", "III"][i % 3]})
    pd.DataFrame(rows).to_csv(data / "manifest.csv", index=False)
    proc = harness("run", "--model", CALLABLE, "--data", data / "manifest.csv", "--out",
                   tmp_path / "run", "--cache", "none", "--perturbations", "blur",
                   "--severities", "1", "--n-boot", "50", "--quiet")
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["groups"]["label_groupings"] == {"fitzpatrick": {"I": 4, "II": 4, "III": 4}}
    assert "fitzpatrick" in results["metrics"]["groupings"]
    assert results["groups"]["label_agreement"]["fitzpatrick"]["n"] == 12
