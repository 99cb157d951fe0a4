"""Small models and real-image batches shared by the model-adapter tests (not a test module).

The format tests use a tiny convolutional net at 32x32 (it builds, saves and converts in well
under a second); only tests/test_models_mobilenet.py uses the nested MobileNetV2 fixture.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

TINY = 32


def tiny_convnet(*, size: int = TINY, n_out: int = 1, activation: str | None = "sigmoid",
                 seed: int = 0, lambda_layer: bool = False, out_scale: float = 1.0):
    """Input 0..255 -> Rescaling -> Conv2D -> DepthwiseConv2D -> GAP -> Dense(n_out, activation).

    ``out_scale`` multiplies the final kernel (large values give logits far outside [0, 1]).
    """
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(inputs)
    if lambda_layer:
        x = keras.layers.Lambda(lambda t: t * 1.0, name="code")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv")(x)
    x = keras.layers.DepthwiseConv2D(3, activation="relu", name="dw")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    dense = keras.layers.Dense(n_out, activation=activation, name="out")
    outputs = dense(x)
    model = keras.Model(inputs, outputs, name="tiny")
    if out_scale != 1.0:
        kernel, bias = dense.get_weights()
        dense.set_weights([kernel * out_scale, bias])
    return model


def write_sidecar(model_path: Path, **fields) -> Path:
    """Write ``fields`` as the sidecar beside ``model_path`` (``M.keras`` -> ``M.json``)."""
    model_path = Path(model_path)
    side = (model_path.parent / (model_path.name + ".json")) if model_path.is_dir() \
        else model_path.with_suffix(".json")
    side.write_text(json.dumps(fields))
    return side


def dermnet_batch(folder: Path, *, size: int, n: int) -> np.ndarray:
    """The first ``n`` DermNet test images (sorted, both classes interleaved), RGB uint8 at
    size x size, decoded with harness.data.decode."""
    from harness.data.decode import decode_image

    per_class = [sorted(d.glob("*.jpg")) for d in sorted(Path(folder).iterdir()) if d.is_dir()]
    files = [f for pair in zip(*per_class) for f in pair][:n]
    assert len(files) == n, f"need {n} images in {folder}"
    return np.stack([decode_image(f, size=(size, size)) for f in files])


def dermnet_spread(folder: Path, n: int, *, size: int = 224) -> np.ndarray:
    """``n`` DermNet images spread evenly over the sorted files (both classes), RGB uint8 at
    size x size by OpenCV's area interpolation (independent of harness.data.decode)."""
    import cv2

    files = sorted(Path(folder).glob("*/*.jpg"))
    files = files[:: max(1, len(files) // n)][:n]
    out = []
    for f in files:
        rgb = cv2.cvtColor(cv2.imread(str(f), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        out.append(cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA))
    return np.stack(out)


def keras_probs(model, images: np.ndarray) -> np.ndarray:
    """The Keras model's own output on 0..255 float input, float64 (N, K)."""
    return np.asarray(model(images.astype(np.float32), training=False), dtype=np.float64)
