"""Every model format gives the Keras model's own probabilities on real DermNet images."""
from __future__ import annotations

import json

import numpy as np
import pytest

from harness.errors import NotAvailable, UserError
from harness.models.open import open_model
from model_factories import TINY, dermnet_batch, keras_probs, tiny_convnet, write_sidecar

N_IMAGES = 20  # with batch_size=8: two full batches and a padded one


@pytest.fixture(scope="module")
def images(dermnet_test):
    return dermnet_batch(dermnet_test, size=TINY, n=N_IMAGES)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(keras model, saved .keras path); sidecar without input_size (inferred from the model)."""
    model = tiny_convnet(out_scale=20.0)  # probabilities spread over ~0.25, not all near 0.5
    path = tmp_path_factory.mktemp("tiny") / "tiny.keras"
    model.save(path)
    write_sidecar(path, class_names=["atopic_dermatitis", "eczema"], positive_class="eczema")
    return model, path


@pytest.fixture(scope="module")
def expected(tiny, images):
    return keras_probs(tiny[0], images)[:, 0]


def test_keras_file_matches_model_output(tiny, images, expected):
    model = open_model(str(tiny[1]))
    assert model.format == "keras" and model.supports_gradients
    assert model.spec.input_size == (TINY, TINY) and model.spec.extra["inferred"] == [
        "input_size", "preprocessing", "threshold"]
    assert model.output_kind == "sigmoid"  # read from the graph's final activation
    p = model.predict_proba(images, batch_size=8)
    assert p.dtype == np.float64 and p.shape == (N_IMAGES,)
    assert np.ptp(p) > 0.1  # the images really give different outputs
    np.testing.assert_allclose(p, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.predict_proba(images, batch_size=32), p, rtol=0, atol=1e-6)
    assert model.keras_model().name == "tiny"


def _inject_groups(config: dict) -> int:
    """Add Keras 2's ``groups: 1`` to every DepthwiseConv2D config (nested models included)."""
    count = 0
    if isinstance(config, dict):
        if config.get("class_name") == "DepthwiseConv2D":
            config["config"]["groups"] = 1
            count += 1
        for value in config.values():
            count += _inject_groups(value)
    elif isinstance(config, list):
        for value in config:
            count += _inject_groups(value)
    return count


def test_legacy_h5_with_depthwise_groups_loads(tiny, images, expected, tmp_path):
    import h5py
    import keras

    path = tmp_path / "legacy.h5"
    tiny[0].save(path)
    with h5py.File(path, "r+") as fh:
        config = json.loads(fh.attrs["model_config"])
        assert _inject_groups(config) == 1
        fh.attrs["model_config"] = json.dumps(config)
    with pytest.raises(Exception, match="groups"):
        keras.saving.load_model(path, compile=False)  # plain Keras 3 refuses the Keras 2 config
    write_sidecar(path, class_names=["atopic_dermatitis", "eczema"], input_size=[TINY, TINY])
    model = open_model(str(path))
    assert model.format == "h5" and model.supports_gradients
    np.testing.assert_allclose(model.predict_proba(images, batch_size=8), expected, rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def exported(tiny, tmp_path_factory):
    folder = tmp_path_factory.mktemp("export") / "tiny_saved"
    tiny[0].export(str(folder), verbose=False)
    return folder


def test_savedmodel_folder_matches(exported, images, expected):
    write_sidecar(exported, class_names=["atopic_dermatitis", "eczema"])
    model = open_model(str(exported))
    assert model.format == "savedmodel" and not model.supports_gradients
    assert model.spec.input_size == (TINY, TINY)  # read from the serving signature
    np.testing.assert_allclose(model.predict_proba(images, batch_size=8), expected, rtol=0, atol=1e-6)
    with pytest.raises(NotAvailable):
        model.keras_model()


def _convert(saved, path, images=None):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    if images is not None:  # full-integer model with uint8 input and output
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([im[None].astype(np.float32)] for im in images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    path.write_bytes(converter.convert())
    return path


def test_tflite_float_and_quantized(exported, images, expected, tmp_path):
    sidecar = {"class_names": ["atopic_dermatitis", "eczema"], "positive_class": "eczema"}
    flt = _convert(exported, tmp_path / "tiny.tflite")
    write_sidecar(flt, **sidecar)
    model = open_model(str(flt))
    assert model.format == "tflite" and model.spec.input_size == (TINY, TINY)
    np.testing.assert_allclose(model.predict_proba(images, batch_size=8), expected, rtol=0, atol=1e-4)
    with pytest.raises(NotAvailable):
        model.keras_model()

    quant = _convert(exported, tmp_path / "tiny_uint8.tflite", images)
    write_sidecar(quant, **sidecar)
    qmodel = open_model(str(quant))
    p = qmodel.predict_proba(images, batch_size=8)
    # uint8 output in steps of 1/256, plus the error of 8-bit weights and activations
    assert np.abs(p - expected).max() < 0.02
    assert np.corrcoef(p, expected)[0, 1] > 0.98


def test_safe_mode_refuses_lambda_unless_trusted(images, tmp_path):
    keras_model = tiny_convnet(lambda_layer=True, seed=1)
    path = tmp_path / "lambda.keras"
    keras_model.save(path)
    write_sidecar(path, class_names=["a", "b"], input_size=[TINY, TINY])
    with pytest.raises(UserError) as excinfo:
        open_model(str(path)).predict_proba(images)
    assert str(excinfo.value) == (
        f"{path}: the model contains code (Lambda layer) that safe loading refuses; "
        "pass --trust-model if you trust this file"
    )
    trusted = open_model(str(path), trust=True)
    np.testing.assert_allclose(trusted.predict_proba(images), keras_probs(keras_model, images)[:, 0],
                               rtol=0, atol=1e-6)


def test_wrong_image_size_or_dtype_is_a_programming_error(tiny, images):
    model = open_model(str(tiny[1]))
    with pytest.raises(ValueError, match=r"\(N, 32, 32, 3\)"):
        model.predict_proba(np.zeros((2, 16, 16, 3), np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        model.predict_proba(images.astype(np.float32))


def test_tflite_with_fixed_batch_runs_image_by_image(exported, images, expected, tmp_path,
                                                      monkeypatch):
    import tensorflow as tf

    flt = _convert(exported, tmp_path / "fixed.tflite")
    write_sidecar(flt, class_names=["atopic_dermatitis", "eczema"])

    def refuse(self, index, shape, strict=False):
        if shape[0] != 1:
            raise RuntimeError("this model's batch dimension is fixed")
        return original(self, index, shape, strict=strict)

    original = tf.lite.Interpreter.resize_tensor_input
    monkeypatch.setattr(tf.lite.Interpreter, "resize_tensor_input", refuse)
    model = open_model(str(flt))
    np.testing.assert_allclose(model.predict_proba(images, batch_size=8), expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("case", ["text", "truncated", "zip_without_model"])
def test_invalid_keras_archive_is_named_not_missing(case, tiny, images, tmp_path):
    """Keras reports these as "File not found" for a file that exists."""
    import zipfile

    path = tmp_path / "broken.keras"
    if case == "text":
        path.write_text("not a model\n")
    elif case == "truncated":
        data = tiny[1].read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("notes.txt", "hello")
    write_sidecar(path, class_names=["atopic_dermatitis", "eczema"], input_size=[TINY, TINY])
    model = open_model(str(path))  # the sidecar is complete: nothing is loaded yet
    with pytest.raises(UserError) as excinfo:
        model.predict_proba(images)
    message = str(excinfo.value)
    assert "\n" not in message and "File not found" not in message
    assert message.startswith(f"{path}: not a valid .keras archive ("), message
    assert message.endswith('; save the model again with model.save("model.keras")'), message
