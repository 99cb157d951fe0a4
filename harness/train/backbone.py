"""The MobileNetV2 backbone of the DermaTrace classifier, and where its weights come from.

``--backbone-weights`` takes one of:

* ``"imagenet"``: Keras' own ImageNet file for ``MobileNetV2(alpha=1.0, include_top=False)``,
  taken from the Keras cache folder or downloaded into it (``keras.utils.get_file``). Where there
  is no internet and the file is not cached, the files named in ``fallbacks`` are tried in order
  (the caller's configuration may name a local copy); when none exists a ``UserError`` names the
  option and the fix.
* ``"none"``: random initialisation (seeded by the caller); for tests and the synthetic demo.
  Keras' random MobileNetV2 is numerically dead: its depthwise kernels are initialised for a
  fan-in of ``9 * channels`` while the BatchNormalization layers assume unit variance, so the
  signal shrinks block after block and the pooled features come out around 1e-12 for every
  image. :func:`calibrate_batchnorm` sets the BatchNormalization statistics from a batch of
  training images (a data-dependent initialisation, no labels involved), which gives random but
  informative-scale features.
* a path: a weights file for ``MobileNetV2(alpha=1.0, include_top=False)``, either Keras 3
  ``.weights.h5`` (``model.save_weights``) or Keras' legacy ``.h5``.

Weights are the same at every input size (MobileNetV2 is fully convolutional), so one file serves
any square or rectangular input of at least 32 pixels a side. What was loaded is recorded by
:class:`BackboneWeights` (``source`` and the file's ``sha256``), which also keys the feature
cache.

TensorFlow is imported only by the functions that build models.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from harness.errors import UserError

__all__ = [
    "BackboneWeights",
    "calibrate_batchnorm",
    "IMAGENET_FILE",
    "IMAGENET_URL",
    "build_backbone",
    "resolve_backbone_weights",
]

#: Keras' ImageNet weights of MobileNetV2 1.0 without its top (any input size).
IMAGENET_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
IMAGENET_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/" + IMAGENET_FILE
)
#: Option name used in messages.
OPTION = "--backbone-weights"
#: Smallest input side MobileNetV2 accepts.
MIN_SIDE = 32

_CHUNK = 1 << 20


@dataclass(frozen=True)
class BackboneWeights:
    """Where the backbone's weights come from.

    Attributes
    ----------
    option : str
        What the user asked for (``"imagenet"``, ``"none"`` or the path as given).
    path : Path or None
        The file loaded; None for random weights.
    source : str
        ``"keras-imagenet"`` (Keras' cache or download), ``"file"`` (a path, or a fallback file
        for ``"imagenet"``) or ``"random"``.
    sha256 : str or None
        sha256 of the file's bytes; None for random weights.
    """

    option: str
    path: Path | None
    source: str
    sha256: str | None

    @property
    def cache_id(self) -> str:
        """Identity of the weights for cache keys (random weights depend on the seed)."""
        return self.sha256 if self.sha256 is not None else "random"

    def to_json(self) -> dict:
        return {
            "architecture": "MobileNetV2",
            "alpha": 1.0,
            "option": self.option,
            "source": self.source,
            "file": None if self.path is None else self.path.name,
            "sha256": self.sha256,
        }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _keras_download(url: str) -> Path:
    """Keras' cached copy of ``url`` (downloading it when missing); raises OSError on failure."""
    import keras

    # get_file prints its progress to stdout; library code never prints.
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            got = keras.utils.get_file(IMAGENET_FILE, url, cache_subdir="models")
        except Exception as exc:  # Keras raises a bare Exception for a failed fetch
            raise OSError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc
    return Path(got)


def resolve_backbone_weights(option: str | Path, *, fallbacks: Sequence[Path] = (),
                             url: str = IMAGENET_URL) -> BackboneWeights:
    """Find the weights file ``option`` names (see the module docstring).

    Parameters
    ----------
    option : str or Path
        ``"imagenet"``, ``"none"`` or a path to a weights file.
    fallbacks : sequence of Path
        Local files tried, in order, when ``"imagenet"`` can be neither found in Keras' cache nor
        downloaded.
    url : str
        Where Keras downloads the ImageNet file from (a ``file://`` URL in tests).

    Returns
    -------
    BackboneWeights

    Raises
    ------
    UserError
        One line naming ``--backbone-weights`` when the file does not exist or the download
        fails with no usable fallback.
    """
    text = str(option)
    if text == "none":
        return BackboneWeights(option="none", path=None, source="random", sha256=None)
    if text == "imagenet":
        try:
            path = _keras_download(url)
        except OSError as exc:
            for candidate in fallbacks:
                candidate = Path(candidate)
                if candidate.is_file():
                    return BackboneWeights(option="imagenet", path=candidate, source="file",
                                           sha256=_sha256(candidate))
            raise UserError(
                f"{OPTION} imagenet: cannot download Keras' ImageNet weights ({exc}); pass a "
                f"local MobileNetV2 no-top weights file with {OPTION} PATH (e.g. "
                "../shared/data/weights/mobilenet_v2_1.0_224_no_top_imagenet.weights.h5), or "
                f"{OPTION} none for random weights"
            ) from None
        return BackboneWeights(option="imagenet", path=path, source="keras-imagenet",
                               sha256=_sha256(path))
    path = Path(text).expanduser()
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise UserError(
            f"{OPTION}: {text!r} {what}; pass a MobileNetV2 no-top weights file (.weights.h5 or "
            f".h5), 'imagenet' or 'none'"
        )
    return BackboneWeights(option=text, path=path, source="file", sha256=_sha256(path))


def build_backbone(size: tuple[int, int], weights: BackboneWeights):
    """MobileNetV2 1.0 without its top, for ``size=(width, height)`` inputs in [-1, 1].

    The model is named ``mobilenetv2_1.00_<height>`` by Keras (e.g. ``mobilenetv2_1.00_224``);
    random weights come from Keras' global seed, which the caller sets.

    Raises
    ------
    UserError
        When the weights file does not fit MobileNetV2 1.0 (one line naming the option).
    """
    import keras

    width, height = int(size[0]), int(size[1])
    if min(width, height) < MIN_SIDE:
        raise ValueError(f"MobileNetV2 needs inputs of at least {MIN_SIDE} px, got {size!r}")
    model = keras.applications.MobileNetV2(
        input_shape=(height, width, 3), alpha=1.0, include_top=False, weights=None
    )
    if weights.path is not None:
        try:
            model.load_weights(str(weights.path))
        except Exception as exc:  # h5py, ValueError from Keras on a shape or layer mismatch
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
            raise UserError(
                f"{OPTION}: {str(weights.path)!r} does not load into MobileNetV2 1.0 without top "
                f"({type(exc).__name__}: {first}); pass a MobileNetV2 no-top weights file, "
                "'imagenet' or 'none'"
            ) from None
    return model


def calibrate_batchnorm(backbone, images: np.ndarray, *, max_images: int = 64,
                        seed: int = 0) -> int:
    """Set every BatchNormalization layer's moving mean and variance to those of a batch.

    For randomly initialised backbones only (see the module docstring): one forward pass in
    training mode with momentum 0, over at most ``max_images`` images drawn with ``seed``, so that
    each layer normalises what actually reaches it. Returns the number of images used.

    Parameters
    ----------
    backbone : keras.Model
        MobileNetV2 taking [-1, 1] input.
    images : np.ndarray
        uint8 (N, H, W, 3) RGB at the backbone's input size (e.g. the training images).
    """
    import keras

    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8 or len(images) == 0:
        raise ValueError(f"images must be a non-empty uint8 (N, H, W, 3) batch, got "
                         f"{images.dtype} {images.shape}")
    rng = np.random.default_rng(seed)
    n = min(int(max_images), len(images))
    idx = np.sort(rng.choice(len(images), size=n, replace=False))
    x = images[idx].astype(np.float32) / 127.5 - 1.0
    layers = [layer for layer in backbone.layers
              if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [layer.momentum for layer in layers]
    try:
        for layer in layers:
            layer.momentum = 0.0
        backbone(x, training=True)
    finally:
        for layer, momentum in zip(layers, saved):
            layer.momentum = momentum
    return n
