"""A small convolutional classifier trained from scratch: the demo's model.

The DermaTrace classifier proper is MobileNetV2 on ImageNet weights (``harness.train.recipes``). Where no
pretrained weights exist (``make demo`` runs with no download) a random MobileNetV2 carries almost
nothing about lesions, so the ``small-cnn`` recipes train this net end to end instead: the same
``harness train`` code path (folds, out-of-fold threshold, sidecar), a model small enough to train
in seconds on two cores::

    image (S, S, 3) 0..255 -> Rescaling(1/127.5, offset=-1) "preprocess"
      -> [Conv2D 3x3 -> BatchNormalization -> ReLU] x 4 (16, 32, 48, 64 channels; stride 2 on the
         first three) -> GlobalAveragePooling2D "pool" -> Dropout -> Dense(1, sigmoid) "prob"

Built-in layers only (safe-mode loading); the last Conv2D block ("conv4") is what Grad-CAM finds.
"""
from __future__ import annotations

import numpy as np

from harness.train.batches import fit_batches

CHANNELS = (16, 32, 48, 64)


def build_small_cnn(size: int, *, dropout: float = 0.3, seed: int = 0):
    """The untrained net for ``size`` x ``size`` RGB 0..255 input."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")(inputs)
    for i, ch in enumerate(CHANNELS, start=1):
        stride = 2 if i < len(CHANNELS) else 1
        x = keras.layers.Conv2D(ch, 3, strides=stride, padding="same", use_bias=False,
                                name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="prob")(x)
    return keras.Model(inputs, outputs, name="dermatrace_small_cnn")


def fit_small_cnn(images: np.ndarray, y: np.ndarray, *, epochs: int, learning_rate: float,
                  batch_size: int, class_weight: dict | None, dropout: float, seed: int,
                  callbacks=()):
    """Train a fresh net on uint8 ``images`` and 0/1 labels ``y``; returns (model, info).

    Horizontal and vertical flips double the data (skin has no up or down); Adam; deterministic
    given ``seed``.
    """
    import keras

    model = build_small_cnn(int(images.shape[1]), dropout=dropout, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                  jit_compile=False)
    x = np.concatenate([images, images[:, :, ::-1], images[:, ::-1]]).astype(np.float32)
    t = np.concatenate([y, y, y]).astype(np.float32)
    keras.utils.set_random_seed(seed)
    batches = fit_batches(x, t, batch_size=batch_size, shuffle=True, class_weight=class_weight)
    hist = model.fit(batches, epochs=epochs, shuffle=False, verbose=0, callbacks=list(callbacks))
    return model, {"epochs": int(epochs), "final_loss": float(hist.history["loss"][-1]),
                   "augmentation": "horizontal and vertical flips"}
