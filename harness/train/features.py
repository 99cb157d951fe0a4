"""Pooled backbone features of decoded images, cached by content.

For a frozen backbone the classifier head sees only ``GlobalAveragePooling2D(backbone(x))``: a
1280-vector per image. Computing it is the whole cost of training a frozen recipe (a forward pass
per image), so it is done once per image and stored in a :class:`harness.cache.ArrayCache` under

* namespace
  ``"features/<FEATURE_VERSION>/mobilenetv2-1.0/<weights sha256>/<width>x<height>/<view>"``
* key ``"<image sha256>:<width>x<height>:<decoder version>"`` (the key the audit pipeline uses for
  decoded images),

so that a second training run on the same images (another recipe, another seed, the folds of a
cross-validation) costs no forward pass at all. Random backbone weights are never cached: they
depend on the seed.

The features are computed by exactly the layers the saved classifier uses before its head
(``Rescaling(1/127.5, offset=-1)``, the backbone in inference mode, global average pooling), so a
head trained on them is the head of the saved model.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from tqdm import tqdm

from harness.train.backbone import BackboneWeights
from harness.cache import ArrayCache

__all__ = ["FEATURE_VERSION", "VIEWS", "feature_namespace", "pooled_features"]

#: Names the feature computation; change it whenever cached features could change.
FEATURE_VERSION = "gap-v1"
#: ``"full"``: the image as decoded; ``"hflip"``: mirrored left-right.
VIEWS = ("full", "hflip")


def feature_namespace(weights: BackboneWeights, size: tuple[int, int], view: str) -> str:
    """Cache namespace of the pooled features of one backbone, input size and view."""
    return (f"features/{FEATURE_VERSION}/mobilenetv2-1.0/{weights.cache_id}/"
            f"{int(size[0])}x{int(size[1])}/{view}")


def _view(images: np.ndarray, view: str) -> np.ndarray:
    if view == "full":
        return images
    if view == "hflip":
        return images[:, :, ::-1]
    raise ValueError(f"unknown view {view!r}; use one of {VIEWS}")


def _extractor(backbone, batch_size: int):
    """A compiled ``uint8 batch -> (N, C) float32`` function through ``backbone``."""
    import keras
    import tensorflow as tf

    height, width = backbone.input_shape[1:3]
    inputs = keras.Input((height, width, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")(inputs)
    x = backbone(x, training=False)
    outputs = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, outputs, name="features")

    @tf.function(input_signature=[tf.TensorSpec((batch_size, height, width, 3), tf.uint8)])
    def forward(batch):
        return model(tf.cast(batch, tf.float32), training=False)

    return forward


def pooled_features(images: np.ndarray, *, backbone, weights: BackboneWeights,
                    image_keys: Sequence[str], cache: ArrayCache | None = None,
                    view: str = "full", batch_size: int = 32, progress: bool = False,
                    desc: str = "features") -> np.ndarray:
    """Global-average-pooled backbone features, computed only for images not in the cache.

    Parameters
    ----------
    images : np.ndarray
        uint8 (N, H, W, 3) RGB at the backbone's input size.
    backbone : keras.Model
        MobileNetV2 without top (:func:`harness.train.backbone.build_backbone`), taking [-1, 1] input.
    weights : BackboneWeights
        The weights ``backbone`` holds (part of the cache key).
    image_keys : sequence of str
        One content key per image (its sha256, size and decoder version).
    cache : ArrayCache or None
        Where features live; None (or a disabled cache) computes everything.
    view : str
        ``"full"`` or ``"hflip"`` (features of the mirrored image).
    batch_size : int
        Forward batch size; the cache is written after every batch.
    progress : bool
        Show a tqdm bar over the images being computed.

    Returns
    -------
    np.ndarray
        float32 (N, C), row-aligned with ``images``.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    if len(image_keys) != len(images):
        raise ValueError(f"{len(image_keys)} keys for {len(images)} images")
    if tuple(images.shape[1:3]) != tuple(backbone.input_shape[1:3]):
        raise ValueError(f"images are {images.shape[1:3]} but the backbone takes "
                         f"{backbone.input_shape[1:3]} (height, width)")
    _view(images[:0], view)  # validates the view name
    channels = int(backbone.output_shape[-1])
    size = (int(images.shape[2]), int(images.shape[1]))
    use_cache = cache is not None and cache.enabled and weights.sha256 is not None
    namespace = feature_namespace(weights, size, view)
    out = np.zeros((len(images), channels), dtype=np.float32)
    have = np.zeros(len(images), dtype=bool)
    if use_cache:
        hits = cache.get_many(namespace, list(image_keys))
        for i, key in enumerate(image_keys):
            value = hits.get(key)
            if value is not None and value.shape == (channels,) and np.all(np.isfinite(value)):
                out[i] = value
                have[i] = True
    missing = np.flatnonzero(~have)
    if missing.size == 0:
        return out
    forward = _extractor(backbone, batch_size)
    bar = tqdm(total=int(missing.size), desc=desc, unit="img", disable=not progress, leave=False)
    try:
        for start in range(0, missing.size, batch_size):
            idx = missing[start:start + batch_size]
            batch = _view(images[idx], view)
            if len(idx) < batch_size:  # pad to one batch shape: the function is traced once
                pad = np.zeros((batch_size - len(idx),) + batch.shape[1:], np.uint8)
                batch = np.concatenate([batch, pad])
            feats = np.asarray(forward(np.ascontiguousarray(batch)))[: len(idx)]
            out[idx] = feats
            if use_cache:
                cache.put_many(namespace, {image_keys[i]: out[i] for i in idx})
            bar.update(len(idx))
    finally:
        bar.close()
    return out
