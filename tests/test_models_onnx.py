"""ONNX models (what PyTorch exports) audited on real DermNet NZ images: the probabilities are
onnxruntime's own, run directly with the documented preprocessing."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.errors import NotAvailable, UserError
from harness.models.open import open_model
from harness.models.sidecar import read_sidecar
from model_factories import dermnet_batch, write_sidecar
from onnx_factories import (conv_net, conv_weights, run_onnx, softmax, tabular_net,
                            torch_preprocess, two_input_net)

REPO = Path(__file__).resolve().parents[1]
SIZE = 32
CLASSES = ["atopic_dermatitis", "eczema"]
SIDECAR = {"class_names": CLASSES, "positive_class": "eczema", "preprocessing": "imagenet_torch"}
N_IMAGES = 10  # with batch 4: two full batches and a padded one


def harness(*args):
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=600, env=dict(os.environ))


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def expected_p(path: Path, images: np.ndarray, *, batch: int | None = None) -> np.ndarray:
    """P(eczema): softmax of onnxruntime's logits on torchvision-normalised NCHW pixels."""
    return softmax(run_onnx(path, torch_preprocess(images), batch=batch))[:, 1]


@pytest.fixture(scope="module")
def images(dermnet_test):
    return dermnet_batch(dermnet_test, size=SIZE, n=N_IMAGES)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def data(dermnet_test, tmp_path_factory):
    """Twelve real DermNet NZ test images, six per class, in class subfolders."""
    root = tmp_path_factory.mktemp("dermnet")
    for cls in CLASSES:
        (root / cls).mkdir()
        for src in sorted((dermnet_test / cls).glob("*.jpg"))[:6]:
            shutil.copyfile(src, root / cls / src.name)
    return root


def _audit(model: Path, data: Path, out: Path, *extra) -> tuple[dict, pd.DataFrame]:
    proc = harness("run", "--model", model, "--data", data, "--out", out, "--cache", out / "cache",
                   "--perturbations", "none", "--n-boot", "50", "--quiet", *extra)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())
    return results, pd.read_csv(out / "samples.csv")


def _expected_for_samples(model: Path, data: Path, samples: pd.DataFrame, **kw) -> np.ndarray:
    from harness.data.decode import decode_image

    pixels = np.stack([decode_image(data / f, size=(SIZE, SIZE)) for f in samples["file"]])
    return expected_p(model, pixels, **kw)


def test_cli_audit_of_pytorch_style_model_gives_onnxruntime_probabilities(folder, data, tmp_path):
    model = conv_net(folder / "m.onnx")
    write_sidecar(model, **SIDECAR)
    results, samples = _audit(model, data, tmp_path / "run", "--gradcam", "none")
    m = results["model"]
    assert m["format"] == "onnx" and m["input_size"] == [SIZE, SIZE]  # read from the graph
    assert m["hash"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert m["output_kind"] == "logits_softmax" and m["supports_gradients"] is False
    assert len(samples) == 12
    p = samples["p"].to_numpy()
    assert np.ptp(p) > 0.2  # the images really give different outputs
    np.testing.assert_allclose(p, _expected_for_samples(model, data, samples), rtol=0, atol=1e-5)


def test_cli_audit_of_fixed_batch_1_export_gives_the_same_p(folder, data, tmp_path):
    dynamic = folder / "m.onnx"
    if not dynamic.exists():
        conv_net(dynamic)
    fixed = conv_net(folder / "fixed1.onnx", batch=1)
    write_sidecar(fixed, **SIDECAR)
    results, samples = _audit(fixed, data, tmp_path / "run", "--gradcam", "4",
                              "--perturbations", "blur", "--severities", "2")
    assert results["model"]["format"] == "onnx"
    # no gradients: occlusion explains it, through the same batches of one
    g = results["gradcam"]
    assert g["explainer"] == "occlusion" and g["n_images"] == 4
    assert g["occlusion"]["label"] == "occlusion (grid 7×7, blurred baseline)"
    identity = g["noise_floor"]["identity"]["overall"]["all"]
    assert identity["centroid_shift"]["n"] == 4
    assert identity["centroid_shift"]["q75"] == 0.0 and identity["spearman"]["q25"] == 1.0
    assert g["drift"]["blur@2"]["overall"]["all"]["spearman"]["n"] == 4
    assert "Heatmaps by occlusion (grid 7×7, blurred baseline)" in \
        (tmp_path / "run" / "report.html").read_text()
    np.testing.assert_allclose(samples["p"].to_numpy(),
                               _expected_for_samples(dynamic, data, samples), rtol=0, atol=1e-5)


def test_fixed_batch_gets_whole_padded_batches(folder, images):
    """A graph fixed at batch 4 refuses any other batch; 10 images go as 4 + 4 + (2 + 2 pad)."""
    dynamic = conv_net(folder / "dyn.onnx")
    fixed = conv_net(folder / "fixed4.onnx", batch=4)
    write_sidecar(fixed, **SIDECAR)
    model = open_model(str(fixed))
    for batch_size in (3, 8, 32):
        p = model.predict_proba(images, batch_size=batch_size)
        np.testing.assert_allclose(p, expected_p(dynamic, images), rtol=0, atol=1e-6)
    assert model._backend.batch == 4
    with pytest.raises(NotAvailable, match="onnx"):
        model.keras_model()


def test_explicit_normalisation_in_the_sidecar(folder, images):
    path = conv_net(folder / "norm.onnx")
    torch_numbers = {"scale": 0.00392156862745098, "mean": [0.485, 0.456, 0.406],
                     "std": [0.229, 0.224, 0.225]}
    write_sidecar(path, **{**SIDECAR, "preprocessing": torch_numbers})
    model = open_model(str(path))
    assert model.spec.preprocessing == torch_numbers
    np.testing.assert_allclose(model.predict_proba(images), expected_p(path, images),
                               rtol=0, atol=1e-6)
    # another normalisation: [-1, 1] with one number for every channel
    write_sidecar(path, **{**SIDECAR, "preprocessing": {"scale": 1 / 127.5, "mean": 1.0}})
    model = open_model(str(path))
    assert model.spec.preprocessing == {"scale": 1 / 127.5, "mean": [1.0] * 3, "std": [1.0] * 3}
    x = np.ascontiguousarray((images.astype(np.float32) / np.float32(127.5) - 1).transpose(0, 3, 1, 2))
    own = softmax(run_onnx(path, x))[:, 1]
    np.testing.assert_allclose(model.predict_proba(images), own, rtol=0, atol=1e-6)
    assert np.abs(own - expected_p(path, images)).max() > 0.01  # the numbers did change p


def test_nhwc_graph_with_named_height_and_width(folder, images):
    path = conv_net(folder / "nhwc.onnx", layout="nhwc", symbolic_size=True)
    write_sidecar(path, **SIDECAR)
    with pytest.raises(UserError) as excinfo:
        open_model(str(path))
    message = one_line(str(excinfo.value))
    assert "cannot infer input_size" in message and 'write "input_size"' in message
    write_sidecar(path, **SIDECAR, input_size=[SIZE, SIZE])
    model = open_model(str(path))
    x = (images.astype(np.float32) / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    own = softmax(run_onnx(path, x.astype(np.float32)))[:, 1]  # NHWC: no transpose
    np.testing.assert_allclose(model.predict_proba(images), own, rtol=0, atol=1e-6)
    np.testing.assert_allclose(own, expected_p(conv_net(folder / "same.onnx"), images), atol=1e-5)
    assert model._backend.layout == "nhwc"


def test_layout_that_the_shape_does_not_tell_comes_from_the_sidecar(folder, images):
    path = conv_net(folder / "named.onnx", input_shape=["batch", "channels", SIZE, SIZE])
    write_sidecar(path, **SIDECAR)  # channels named at 1, 32 at 3: NCHW
    assert open_model(str(path)).load()._backend.layout == "nchw"
    path = conv_net(folder / "all_named.onnx", input_shape=["batch", "c", "h", "w"])
    write_sidecar(path, **SIDECAR, input_size=[SIZE, SIZE])
    with pytest.raises(UserError) as excinfo:
        open_model(str(path)).load()
    message = one_line(str(excinfo.value))
    assert message.startswith(f"{path}: the input 'input' has shape ['batch', 'c', 'h', 'w'], "
                              "which does not tell where its colour channels are")
    assert message.endswith('write "layout": "nchw" or "nhwc" in the model sidecar')
    write_sidecar(path, **SIDECAR, input_size=[SIZE, SIZE], layout="nchw")
    model = open_model(str(path))
    np.testing.assert_allclose(model.predict_proba(images), expected_p(path, images),
                               rtol=0, atol=1e-6)
    write_sidecar(path, **SIDECAR, input_size=[SIZE, SIZE], layout="nhwc")
    assert open_model(str(path)).cache_tag != model.cache_tag  # a layout changes p: not reused
    path = conv_net(folder / "gray.onnx", input_shape=["batch", 1, SIZE, SIZE])
    write_sidecar(path, **SIDECAR)
    with pytest.raises(UserError, match=r"no 3 colour channels at position 1 \(NCHW\) or 3"):
        open_model(str(path))


def test_float16_and_uint8_inputs(folder, images):
    half = conv_net(folder / "half.onnx", dtype="float16")
    write_sidecar(half, **SIDECAR)
    p = open_model(str(half)).predict_proba(images)
    reference = expected_p(conv_net(folder / "ref.onnx"), images)
    np.testing.assert_allclose(p, reference, rtol=0, atol=2e-3)  # float16 pixels
    assert np.abs(p - reference).max() > 0  # they did go in as float16
    raw = conv_net(folder / "raw.onnx", dtype="uint8")
    write_sidecar(raw, **{**SIDECAR, "preprocessing": "none"})
    own = softmax(run_onnx(raw, np.ascontiguousarray(images.transpose(0, 3, 1, 2))))[:, 1]
    np.testing.assert_allclose(open_model(str(raw)).predict_proba(images), own, rtol=0, atol=1e-6)
    write_sidecar(raw, **SIDECAR)  # imagenet_torch floats cannot go into a uint8 input
    with pytest.raises(UserError) as excinfo:
        open_model(str(raw)).predict_proba(images)
    assert one_line(str(excinfo.value)) == (
        f"{raw}: the input 'input' takes uint8 pixels, so the graph does its own normalisation; "
        "write \"preprocessing\": \"none\" in the model sidecar")


def test_several_outputs_need_output_key(folder, images):
    path = conv_net(folder / "two_out.onnx", probs_output=True)
    write_sidecar(path, **SIDECAR)
    with pytest.raises(UserError) as excinfo:
        open_model(str(path))
    assert "outputs 'logits', 'probs'; write \"output_key\"" in one_line(str(excinfo.value))
    for key, kind in (("logits", "logits_softmax"), ("probs", "softmax")):
        write_sidecar(path, **SIDECAR, output_key=key)
        model = open_model(str(path))
        np.testing.assert_allclose(model.predict_proba(images), expected_p(path, images),
                                   rtol=0, atol=1e-6)
        assert model.output_kind == kind


def test_onnx_is_recognised_by_content_without_its_suffix(folder, images):
    path = folder / "exported.bin"
    conv_net(folder / "content.onnx").rename(path)
    write_sidecar(path, **SIDECAR)
    model = open_model(str(path))
    assert model.format == "onnx"
    np.testing.assert_allclose(model.predict_proba(images), expected_p(path, images),
                               rtol=0, atol=1e-6)


@pytest.mark.parametrize("case", ["not_onnx", "two_inputs", "not_an_image", "k_minus_1_names"])
def test_bad_onnx_files_are_one_line_exit_2(case, data, tmp_path):
    path = tmp_path / "m.onnx"
    if case == "k_minus_1_names":  # three outputs, a sidecar naming two classes
        conv_net(path, weights=conv_weights(n_out=3))
        side = write_sidecar(path, **SIDECAR)
        fragment = f"{side}: class_names has 2 names ['atopic_dermatitis', 'eczema'] but the " \
                   "model has 3 output(s); write 3 names in output order"
    elif case == "not_onnx":
        path.write_text("this is a text file, not a model\n")
        fragment = f"{path}: not a valid ONNX model (Protobuf parsing failed.)"
    elif case == "two_inputs":
        two_input_net(path)
        fragment = f"{path}: the graph has 2 inputs ('input', 'age'); DermaTrace audits models " \
                   "with one image input"
    else:
        tabular_net(path)
        fragment = f"{path}: the input 'features' (shape ['batch', 10]) is not an image"
    proc = harness("run", "--model", path, "--data", data, "--out", tmp_path / "run",
                   "--cache", "none", "--perturbations", "none", "--gradcam", "none", "--quiet")
    assert proc.returncode == 2, proc.stderr
    line = one_line(proc.stderr)
    assert line.startswith("error: ") and fragment in line, line


@pytest.mark.parametrize("value, fragment", [
    ({"scale": 0}, "preprocessing.scale must be a positive number"),
    ({"mean": [0.5, 0.5]}, "preprocessing.mean must be one number or 3 numbers (R, G, B) "
                           "(got [0.5, 0.5])"),
    ({"std": [1, 0, 1]}, "preprocessing.std must be one number or 3 positive numbers"),
    ({"mean": "imagenet"}, "preprocessing.mean must be one number or 3 numbers"),
    ({"offset": 1}, "preprocessing has unknown key 'offset'; an explicit preprocessing is an "
                    "object of scale, mean, std"),
    ({}, "preprocessing has an empty object"),
    (["imagenet_torch"], "preprocessing ['imagenet_torch'] is unknown; use one of none,"),
])
def test_explicit_preprocessing_errors_name_the_field(value, fragment, tmp_path):
    side = tmp_path / "m.json"
    side.write_text(json.dumps({**SIDECAR, "preprocessing": value}))
    with pytest.raises(UserError) as excinfo:
        read_sidecar(side)
    message = one_line(str(excinfo.value))
    assert message.startswith(f"{side}: ") and fragment in message, message


def test_layout_field_is_checked(tmp_path):
    side = tmp_path / "m.json"
    side.write_text(json.dumps({**SIDECAR, "layout": "NCWH"}))
    with pytest.raises(UserError) as excinfo:
        read_sidecar(side)
    assert one_line(str(excinfo.value)).startswith(
        f"{side}: layout 'NCWH' is unknown; use one of nchw, nhwc")


def test_a_graph_that_cannot_run_at_the_sidecar_size_is_one_line(folder, capfd):
    path = conv_net(folder / "named_size.onnx", symbolic_size=True)
    write_sidecar(path, **SIDECAR, input_size=[2, 2])  # too small for two 3x3 convolutions
    with pytest.raises(UserError) as excinfo:
        open_model(str(path)).predict_proba(np.zeros((3, 2, 2, 3), np.uint8))
    message = one_line(str(excinfo.value))
    assert message.startswith(f"{path}: onnxruntime cannot run the graph on input 'input' of "
                              "shape [3, 3, 2, 2] (")
    assert message.endswith("; check input_size and layout in the model sidecar")
    assert "onnxruntime" not in capfd.readouterr().err  # raised, not also logged
