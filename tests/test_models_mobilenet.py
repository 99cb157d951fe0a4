"""The study's architecture (MobileNetV2 nested as a sub-model, ImageNet weights) on real DermNet
images: DermaTrace's compiled forward pass gives exactly the Keras model's own output."""
from __future__ import annotations

import numpy as np

from harness.models.open import open_model
from model_factories import dermnet_batch, keras_probs


def test_predict_proba_equals_keras_output_on_real_images(nested_mobilenet, dermnet_test):
    images = dermnet_batch(dermnet_test, size=224, n=24)
    model = open_model(str(nested_mobilenet))
    assert model.format == "keras" and model.spec.positive_class == "eczema"
    assert model.spec.input_size == (224, 224) and model.spec.extra["inferred"] == []
    p = model.predict_proba(images, batch_size=16)  # one full batch, one padded batch
    assert model.output_kind == "sigmoid"
    keras_model = model.keras_model()
    assert keras_model.get_layer("mobilenetv2_1.00_224") is not None  # the nested backbone
    expected = keras_probs(keras_model, images)[:, 0]
    assert p.shape == (24,) and p.dtype == np.float64
    assert np.ptp(expected) > 1e-3
    np.testing.assert_allclose(p, expected, rtol=0, atol=1e-6)
