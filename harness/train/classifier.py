"""The saved Keras classifier around a MobileNetV2 backbone, its head, and batch prediction.

::

    image (S, S, 3) -> Rescaling(1/127.5, offset=-1) "preprocess"
                    -> MobileNetV2 1.0 without top, nested as one layer (inference mode)
                    -> GlobalAveragePooling2D "pool" -> Dropout(0.3) "dropout"
                    -> Dense(1, sigmoid) "prob"

Only built-in layers, so it loads with ``keras.saving.load_model(path)`` in safe mode.
"""
from __future__ import annotations

import numpy as np

__all__ = ["build_classifier", "predict_images", "set_head"]


def build_classifier(backbone, *, dropout: float = 0.3, name: str = "dermatrace_mobilenetv2"):
    """The saved architecture around ``backbone`` (see the module docstring)."""
    import keras

    height, width = backbone.input_shape[1:3]
    inputs = keras.Input((height, width, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")(inputs)
    x = backbone(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="prob")(x)
    return keras.Model(inputs, outputs, name=name)


def set_head(model, kernel: np.ndarray, bias: float) -> None:
    """Set the ``prob`` layer of ``model`` to ``kernel`` (on the pooled features) and ``bias``."""
    layer = model.get_layer("prob")
    layer.set_weights([np.asarray(kernel, np.float32).reshape(-1, 1),
                       np.asarray([bias], np.float32)])


def predict_images(model, images: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
    """P(positive) for uint8 images through a compiled forward pass (fixed batch shape)."""
    import tensorflow as tf

    spec = tf.TensorSpec((batch_size,) + tuple(images.shape[1:]), tf.as_dtype(images.dtype))

    @tf.function(input_signature=[spec])
    def forward(batch):
        return model(tf.cast(batch, tf.float32), training=False)

    out = np.zeros(len(images), np.float64)
    # One trace per model (each fold trains a new one): TensorFlow's "retracing" warning about
    # that is expected here, so it is kept out of the user's terminal for this loop only.
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size]
            n = len(batch)
            if n < batch_size:
                batch = np.concatenate([batch, np.zeros((batch_size - n,) + batch.shape[1:],
                                                        batch.dtype)])
            out[start:start + n] = np.asarray(forward(batch))[:n, 0]
    finally:
        logger.setLevel(level)
    return out
