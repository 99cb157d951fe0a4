"""How raw outputs become the positive-class probability: sigmoid, softmax, logits, K classes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit, softmax

from harness.errors import UserError
from harness.models.outputs import (
    detect_output_kind,
    positive_probability,
    preprocess_images,
    to_probabilities,
)
from harness.models.open import open_model
from model_factories import TINY, dermnet_batch, keras_probs, tiny_convnet, write_sidecar

CALLABLES = Path(__file__).resolve().parent / "callable_models.py"


@pytest.fixture(scope="module")
def images(dermnet_test):
    return dermnet_batch(dermnet_test, size=TINY, n=12)


def _sidecar(tmp_path, **fields) -> str:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(fields))
    return str(path)


# -- kernels (known answers) ---------------------------------------------------------------------

def test_output_kind_detection_table():
    assert detect_output_kind(np.array([[0.0], [0.3], [1.0]])) == "sigmoid"
    assert detect_output_kind(np.array([[-0.2], [0.3]])) == "logits_sigmoid"
    assert detect_output_kind(np.array([[1.7], [0.3]])) == "logits_sigmoid"
    assert detect_output_kind(np.array([[0.2, 0.8], [0.5, 0.5]])) == "softmax"
    assert detect_output_kind(np.array([[0.2, 0.7], [0.5, 0.5]])) == "logits_softmax"  # row 0: 0.9
    assert detect_output_kind(np.array([[2.0, -1.0, 0.5]])) == "logits_softmax"


def test_probability_conversions():
    np.testing.assert_allclose(to_probabilities(np.array([0.0, 2.0, -2.0]), "logits_sigmoid")[:, 0],
                               [0.5, 1 / (1 + np.exp(-2)), 1 / (1 + np.exp(2))], atol=1e-15)
    z = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])
    p = to_probabilities(z, "logits_softmax")
    np.testing.assert_allclose(p[0], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum(), atol=1e-15)
    np.testing.assert_allclose(p[1], [1.0, 0.0, 0.0], atol=1e-15)  # no overflow
    probs = np.array([[0.2], [0.9]])
    np.testing.assert_allclose(positive_probability(probs, ["neg", "pos"], "pos"), [0.2, 0.9])
    np.testing.assert_allclose(positive_probability(probs, ["neg", "pos"], "neg"), [0.8, 0.1])
    three = np.array([[0.1, 0.2, 0.7]])
    assert positive_probability(three, ["a", "b", "c"], "b")[0] == 0.2


def test_preprocessing_known_values():
    px = np.array([[[[0, 127, 255]]]], dtype=np.uint8)
    np.testing.assert_allclose(preprocess_images(px, "none")[0, 0, 0], [0, 127, 255])
    np.testing.assert_allclose(preprocess_images(px, "scale_0_1")[0, 0, 0], [0, 127 / 255, 1], atol=1e-7)
    np.testing.assert_allclose(preprocess_images(px, "mobilenet_v2")[0, 0, 0],
                               [-1, 127 / 127.5 - 1, 1], atol=1e-6)
    np.testing.assert_allclose(preprocess_images(px, "imagenet_caffe")[0, 0, 0],
                               [255 - 103.939, 127 - 116.779, 0 - 123.68], atol=1e-4)  # BGR
    np.testing.assert_allclose(preprocess_images(px, "imagenet_torch")[0, 0, 0],
                               [(0 - 0.485) / 0.229, (127 / 255 - 0.456) / 0.224,
                                (1 - 0.406) / 0.225], atol=1e-5)
    assert all(preprocess_images(px, n).dtype == np.float32
               for n in ("none", "scale_0_1", "mobilenet_v2", "imagenet_caffe", "imagenet_torch"))


# -- models -----------------------------------------------------------------------------------------

def test_keras_logits_read_from_graph_and_converted(images, tmp_path):
    keras_model = tiny_convnet(activation=None, out_scale=200.0, seed=2)
    raw = keras_probs(keras_model, images)[:, 0]
    assert raw.min() < 0 or raw.max() > 1  # really logits
    path = tmp_path / "logits.keras"
    keras_model.save(path)
    write_sidecar(path, class_names=["atopic_dermatitis", "eczema"], input_size=[TINY, TINY])
    model = open_model(str(path))
    p = model.predict_proba(images, batch_size=5)
    assert model.output_kind == "logits_sigmoid"
    np.testing.assert_allclose(p, expit(raw), rtol=0, atol=1e-6)


def test_k_class_softmax_positive_column_and_binary_view(images, tmp_path):
    keras_model = tiny_convnet(n_out=3, activation="softmax", seed=3)
    probs = keras_probs(keras_model, images)
    path = tmp_path / "three.keras"
    keras_model.save(path)
    write_sidecar(path, class_names=["eczema", "psoriasis", "tinea"], positive_class="tinea",
                  input_size=[TINY, TINY])
    model = open_model(str(path))
    assert model.binary_view and model.spec.positive_class == "tinea"
    np.testing.assert_allclose(model.predict_proba(images), probs[:, 2], rtol=0, atol=1e-6)
    assert model.output_kind == "softmax"
    other = open_model(str(path), positive_class="eczema")  # --positive-class overrides
    np.testing.assert_allclose(other.predict_proba(images), probs[:, 0], rtol=0, atol=1e-6)
    assert other.cache_tag != model.cache_tag  # different numbers, different cache entries


def test_k_class_logits_and_inferred_class_names(images, tmp_path):
    keras_model = tiny_convnet(n_out=3, activation=None, out_scale=100.0, seed=4)
    z = keras_probs(keras_model, images)
    path = tmp_path / "three_logits.keras"
    keras_model.save(path)
    model = open_model(str(path), dataset_labels=["c", "a", "b", "a"], positive_class="b")
    assert model.spec.class_names == ["a", "b", "c"]
    assert set(model.spec.extra["inferred"]) == {"class_names", "input_size", "preprocessing",
                                                 "threshold"}
    np.testing.assert_allclose(model.predict_proba(images), softmax(z, axis=1)[:, 1],
                               rtol=0, atol=1e-6)
    assert model.output_kind == "logits_softmax"


def test_sigmoid_with_first_class_positive_is_the_complement(images, tmp_path):
    model = open_model(f"{CALLABLES}:redness", positive_class="atopic_dermatitis",
                       spec_path=_sidecar(tmp_path, class_names=["atopic_dermatitis", "eczema"],
                                          input_size=[TINY, TINY]))
    np.testing.assert_allclose(model.predict_proba(images),
                               1.0 - images[..., 0].mean(axis=(1, 2)) / 255.0, atol=1e-12)


def test_callable_logits_and_softmax_detected_from_first_batch(images, tmp_path):
    side = _sidecar(tmp_path, class_names=["a", "b"], input_size=[TINY, TINY])
    logit = open_model(f"{CALLABLES}:redness_logit", spec_path=side)
    x = images.astype(np.float64)
    expected = expit((x[..., 0].mean(axis=(1, 2)) - x[..., 1].mean(axis=(1, 2))) / 8.0)
    np.testing.assert_allclose(logit.predict_proba(images, batch_size=4), expected, atol=1e-12)
    assert logit.output_kind == "logits_sigmoid"

    side3 = _sidecar(tmp_path, class_names=["red", "green", "blue"], positive_class="green",
                     input_size=[TINY, TINY])
    soft = open_model("callable_models:channel_softmax", spec_path=side3)
    z = x.mean(axis=(1, 2)) / 32.0
    np.testing.assert_allclose(soft.predict_proba(images), softmax(z, axis=1)[:, 1], atol=1e-12)
    assert soft.output_kind == "softmax" and soft.binary_view


def test_output_kind_never_flips_between_batches(tmp_path):
    dark = np.full((4, TINY, TINY, 3), 20, np.uint8)     # red/64 = 0.31: looks like probabilities
    bright = np.full((4, TINY, TINY, 3), 200, np.uint8)  # red/64 = 3.1: not a probability
    side = _sidecar(tmp_path, class_names=["a", "b"], input_size=[TINY, TINY])
    model = open_model(f"{CALLABLES}:red_over_64", spec_path=side)
    with pytest.raises(UserError) as excinfo:
        model.predict_proba(np.concatenate([dark, bright]), batch_size=4)
    assert '"output": "logits"' in str(excinfo.value) and "\n" not in str(excinfo.value)
    assert model.output_kind == "sigmoid"  # decided once, not flipped

    side = _sidecar(tmp_path, class_names=["a", "b"], input_size=[TINY, TINY], output="logits")
    model = open_model(f"{CALLABLES}:red_over_64", spec_path=side)
    p = model.predict_proba(np.concatenate([dark, bright]), batch_size=4)
    np.testing.assert_allclose(p, expit(np.r_[[20 / 64] * 4, [200 / 64] * 4]), atol=1e-12)
    assert model.output_kind == "logits_sigmoid"


def test_callable_preprocessing_and_bad_outputs(images, tmp_path):
    side = _sidecar(tmp_path, class_names=["a", "b"], input_size=[TINY, TINY],
                    preprocessing="scale_0_1")
    assert open_model(f"{CALLABLES}:dtype_probe", spec_path=side).predict_proba(images).min() == 1.0
    side = _sidecar(tmp_path, class_names=["a", "b"], input_size=[TINY, TINY])
    assert open_model(f"{CALLABLES}:dtype_probe", spec_path=side).predict_proba(images).max() == 0.0
    with pytest.raises(UserError, match=r"returned shape \(13,\) for a batch of 12 images"):
        open_model(f"{CALLABLES}:wrong_shape", spec_path=side).predict_proba(images)
    inferred = open_model(f"{CALLABLES}:channel_softmax",
                          spec_path=_sidecar(tmp_path, input_size=[TINY, TINY]),
                          dataset_labels=["x", "y"])
    with pytest.raises(UserError) as excinfo:
        inferred.predict_proba(images)
    assert "3 output(s)" in str(excinfo.value) and 'write "class_names"' in str(excinfo.value)
