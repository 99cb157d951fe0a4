"""The saved model: built-in layers only (safe mode), RGB 0..255 uint8 in, P(positive) out."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.data.load import load_dataset

from train_helpers import synthetic_root, trained


def test_saved_model_loads_in_safe_mode_and_takes_uint8():
    import keras

    summary, _ = trained("baseline")
    model = keras.saving.load_model(summary["model"], safe_mode=True, compile=False)
    assert model.input_shape == (None, 64, 64, 3)
    assert model.output_shape == (None, 1)
    names = [layer.name for layer in model.layers]
    assert names[:2] == ["image", "preprocess"]
    assert isinstance(model.get_layer("preprocess"), keras.layers.Rescaling)
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    assert len(nested) == 1 and nested[0].name.startswith("mobilenetv2_1.00")
    assert not any(type(layer).__name__ == "Lambda" for layer in model.layers)
    assert model.get_layer("prob").activation.__name__ == "sigmoid"

    images = load_dataset(synthetic_root() / "test", size=(64, 64)).images
    assert images.dtype == np.uint8
    p_uint8 = np.asarray(model(images, training=False))[:, 0]
    p_float = np.asarray(model(images.astype(np.float32), training=False))[:, 0]
    assert np.all((p_uint8 > 0) & (p_uint8 < 1))
    np.testing.assert_array_equal(p_uint8, p_float)
    # the Rescaling layer maps 0..255 to [-1, 1]: feeding [-1, 1] again changes the output
    # only if the head reads the pixels at all; check the preprocessing arithmetic directly
    pre = keras.Model(model.input, model.get_layer("preprocess").output)
    x = np.array([[[[0, 127.5, 255]]]], np.float32)
    np.testing.assert_allclose(np.asarray(pre(np.tile(x, (1, 64, 64, 1))))[0, 0, 0],
                               [-1.0, 0.0, 1.0], atol=1e-6)


def test_open_model_reads_it_like_harness_run():
    from harness.models.open import open_model

    summary, _ = trained("baseline")
    loaded = open_model(summary["model"])
    assert loaded.spec.positive_class == "eczema"
    assert loaded.spec.threshold == summary["threshold"]
    assert loaded.spec.input_size == (64, 64)
    assert loaded.spec.preprocessing == "none"
    images = load_dataset(synthetic_root() / "test", size=(64, 64)).images
    p = loaded.predict_proba(images)
    assert p.shape == (16,) and np.all(np.isfinite(p))
    assert Path(summary["model"]).stat().st_size > 1_000_000  # the backbone is inside
