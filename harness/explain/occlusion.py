"""Occlusion saliency: where a model looks, for models without gradients (ONNX, TFLite, callables).

Each image is cut into a grid of patches; each patch in turn is replaced by the same region of a
baseline copy of the image (by default the image blurred), and the model is run on every occluded
copy. A patch's value is how much the probability of the explained class drops when that patch is
hidden: ``max(p(clean) - p(occluded), 0)``. Like a Grad-CAM heatmap, the map is non-negative (a
patch whose occlusion raises the probability counts as no evidence), not normalised, and on a
coarse native grid, so the kernels of :mod:`harness.explain.attention` (``upsample``, ``drift``,
``attention_shares``) read it as they read Grad-CAM's.

Pure numpy and OpenCV: the model is a function given by the caller (e.g.
``LoadedModel.predict_proba``). One image's occluded copies go through it in batches, the clean
image in the first batch, so one image costs ``ceil((patches + 1) / batch_size)`` calls and
``patches + 1`` forward passes.

:class:`Occlusion` is the explainer the audit uses where Grad-CAM cannot run: it has Grad-CAM's
interface (``heatmaps(images, class_index=, batch_size=)``, ``key()``), so the noise floor and
the drift of :mod:`harness.explain.attention` take either. :func:`explain_image` is the one-image
entry point (for an interactive viewer).
"""
from __future__ import annotations

import math
from typing import Callable

import cv2
import numpy as np

#: Baselines a patch can be replaced with (besides a constant grey level 0..255).
BASELINES = ("blur", "mean")
#: Patches per side of the audit's occlusion maps: 7 x 7 = 49 patches (50 forward passes per
#: image), the grid of MobileNetV2's last feature map at 224 px, so that an occlusion map and a
#: Grad-CAM map of the same network have the same resolution.
DEFAULT_GRID = 7
#: Part of every occlusion cache key: bump it when the maps change for the same parameters.
OCCLUSION_VERSION = "1"


def patch_grid(height: int, width: int, *, grid: int,
               stride: int | None = None) -> tuple[list[tuple[slice, slice]], tuple[int, int]]:
    """The patches of an occlusion map, row by row, and the map's shape.

    Parameters
    ----------
    height, width : int
        Image size in pixels.
    grid : int
        Patches per side. Without ``stride`` the patches tile the image exactly (edges at
        ``round(k * size / grid)``); with it, each patch is ``ceil(size / grid)`` pixels.
    stride : int, optional
        Step between patch origins in pixels (overlapping patches when smaller than a patch);
        the map then has ``(size - patch) // stride + 1`` positions per side.

    Returns
    -------
    (list of (slice, slice), (rows, cols))
    """
    if not isinstance(grid, (int, np.integer)) or grid < 1 or grid > min(height, width):
        raise ValueError(f"grid must be an int in 1..{min(height, width)} (patches per side), "
                         f"got {grid!r}")
    if stride is None:
        ys = np.rint(np.linspace(0, height, grid + 1)).astype(int)
        xs = np.rint(np.linspace(0, width, grid + 1)).astype(int)
        rows = [slice(a, b) for a, b in zip(ys[:-1], ys[1:])]
        cols = [slice(a, b) for a, b in zip(xs[:-1], xs[1:])]
    else:
        if not isinstance(stride, (int, np.integer)) or stride < 1:
            raise ValueError(f"stride must be a positive int (pixels), got {stride!r}")
        ph, pw = math.ceil(height / grid), math.ceil(width / grid)
        rows = [slice(y, y + ph) for y in range(0, height - ph + 1, stride)]
        cols = [slice(x, x + pw) for x in range(0, width - pw + 1, stride)]
    return [(r, c) for r in rows for c in cols], (len(rows), len(cols))


def baseline_image(image: np.ndarray, *, baseline: str | float, patch: int) -> np.ndarray:
    """What an occluded patch shows: ``"blur"`` -- the image under a Gaussian blur of sigma half
    the patch side (detail gone, colour kept); ``"mean"`` -- the image's mean colour; a number --
    that grey level (0..255).

    A blur of sigma 8 px or more is computed at ``1 / floor(sigma / 4)`` of the resolution and
    resized back (bilinear): within 2 grey levels of the full-resolution blur on DermNet NZ
    images at 224 px (sigma 16), and ten times faster.
    """
    if isinstance(baseline, str):
        if baseline == "blur":
            return _blur(image, sigma=max(patch / 2.0, 0.5))
        if baseline == "mean":
            mean = image.reshape(-1, image.shape[-1]).mean(axis=0)
            return np.broadcast_to(np.rint(mean).astype(image.dtype), image.shape)
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)} or a grey level "
                         f"0..255, got {baseline!r}")
    if isinstance(baseline, bool) or not isinstance(baseline, (int, float)) \
            or not 0 <= baseline <= 255:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)} or a grey level "
                         f"0..255, got {baseline!r}")
    return np.full_like(image, int(round(baseline)))


def _blur(image: np.ndarray, *, sigma: float) -> np.ndarray:
    height, width = image.shape[:2]
    factor = int(sigma // 4)
    if factor < 2 or min(height, width) < 8 * factor:
        return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma,
                                borderType=cv2.BORDER_REFLECT)
    small = cv2.resize(image, (round(width / factor), round(height / factor)),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=sigma / factor, sigmaY=sigma / factor,
                             borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _class_indices(class_index, n: int) -> np.ndarray:
    cls = np.asarray(class_index)
    if cls.ndim == 0:
        cls = np.full(n, int(cls))
    if cls.shape != (n,) or not np.issubdtype(cls.dtype, np.integer) or (n and cls.min() < 0):
        raise ValueError(f"class_index must be a non-negative int or ({n},) ints, got "
                         f"{class_index!r}")
    return cls.astype(int)


def _explained(probs: np.ndarray, cls: int, m: int) -> np.ndarray:
    """The explained class's probability from predict_fn's (m,) or (m, K) output."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.shape[:1] != (m,) or p.ndim not in (1, 2):
        raise ValueError(f"predict_fn returned shape {p.shape} for {m} images; return (N,) "
                         "probabilities of the positive class or (N, K) class probabilities")
    if p.ndim == 1:  # one probability per image: that of class 1 (class 0 is its complement)
        if cls not in (0, 1):
            raise ValueError(f"class_index {cls} needs (N, K) probabilities; predict_fn "
                             "returned one per image (class 1; 0 is its complement)")
        return p if cls == 1 else 1.0 - p
    if cls >= p.shape[1]:
        raise ValueError(f"class_index {cls} is out of range for {p.shape[1]} classes")
    return p[:, cls]


def occlusion_map(images: np.ndarray, predict_fn: Callable[[np.ndarray], np.ndarray], *,
                  class_index: int | np.ndarray, grid: int = DEFAULT_GRID, stride: int | None = None,
                  baseline: str | float = "blur", batch_size: int = 64) -> np.ndarray:
    """Occlusion heatmaps of a batch of images.

    Parameters
    ----------
    images : np.ndarray
        uint8 (N, H, W, 3) at the model's input size.
    predict_fn : callable
        Maps a uint8 batch (M, H, W, 3) to probabilities: (M,) of class 1 (e.g.
        ``LoadedModel.predict_proba``, the positive class) or (M, K) of each class.
    class_index : int or (N,) ints
        The class explained per image (with (M,) probabilities: 1, or 0 for their complement).
    grid : int
        Patches per side (default :data:`DEFAULT_GRID`: 7 x 7 patches, 32 px each at 224 px).
    stride : int, optional
        Pixels between patch origins, for overlapping patches (see :func:`patch_grid`).
    baseline : str or float
        What a hidden patch shows (see :func:`baseline_image`); default ``"blur"``.
    batch_size : int
        Occluded copies per call of ``predict_fn``.

    Returns
    -------
    np.ndarray
        float32 (N, rows, cols), non-negative: the drop of the explained class's probability when
        each patch is hidden, 0 where hiding it does not lower the probability.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"images must be a uint8 batch (N, H, W, C), got {images.dtype} "
                         f"{images.shape}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    n, height, width = images.shape[:3]
    patches, shape = patch_grid(height, width, grid=grid, stride=stride)
    side = max(max(r.stop - r.start, c.stop - c.start) for r, c in patches)
    classes = _class_indices(class_index, n)
    out = np.zeros((n, *shape), dtype=np.float32)
    for i in range(n):
        image = images[i]
        base = baseline_image(image, baseline=baseline, patch=side)
        # jobs: -1 is the clean image, then each patch in turn
        jobs = [-1, *range(len(patches))]
        scores = np.empty(len(jobs), dtype=np.float64)
        for start in range(0, len(jobs), batch_size):
            part = jobs[start : start + batch_size]
            batch = np.repeat(image[None], len(part), axis=0)
            for b, job in enumerate(part):
                if job >= 0:
                    rows, cols = patches[job]
                    batch[b, rows, cols] = base[rows, cols]
            scores[start : start + len(part)] = _explained(predict_fn(batch), classes[i],
                                                           len(part))
        drops = np.maximum(scores[0] - scores[1:], 0.0)
        out[i] = drops.reshape(shape)
    return out


def baseline_label(baseline: str | float) -> str:
    """``"blur"`` -> ``"blurred baseline"``, ``"mean"`` -> ``"mean-colour baseline"``, a number
    -> ``"grey 128 baseline"``."""
    if baseline == "blur":
        return "blurred baseline"
    if baseline == "mean":
        return "mean-colour baseline"
    return f"grey {int(round(float(baseline)))} baseline"


class Occlusion:
    """Occlusion maps of one model, with the interface of :class:`harness.explain.gradcam.GradCam`.

    Parameters
    ----------
    predict_fn : callable
        Maps a uint8 batch (M, H, W, 3) to probabilities, as :func:`occlusion_map` takes it (e.g.
        ``LoadedModel.predict_proba``: the positive class, explained as class 1).
    grid, stride, baseline
        As :func:`occlusion_map`; checked here, so a bad value fails before any forward pass.

    Attributes
    ----------
    layer_name : None
        Occlusion reads no layer (Grad-CAM's attribute of the same name is its feature layer).
    """

    layer_name = None

    def __init__(self, predict_fn: Callable[[np.ndarray], np.ndarray], *,
                 grid: int = DEFAULT_GRID, stride: int | None = None,
                 baseline: str | float = "blur"):
        if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 1:
            raise ValueError(f"grid must be a positive int (patches per side), got {grid!r}")
        if stride is not None and (isinstance(stride, bool)
                                   or not isinstance(stride, (int, np.integer)) or stride < 1):
            raise ValueError(f"stride must be a positive int (pixels), got {stride!r}")
        baseline_image(np.zeros((1, 1, 3), np.uint8), baseline=baseline, patch=1)  # checks it
        self.predict_fn = predict_fn
        self.grid = int(grid)
        self.stride = None if stride is None else int(stride)
        self.baseline = baseline

    def key(self) -> str:
        """Canonical description of what these maps are (for cache keys): the method, its
        version and every parameter that changes a map."""
        return (f"occlusion-v{OCCLUSION_VERSION}|grid={self.grid}|stride={self.stride or ''}"
                f"|baseline={self.baseline}")

    def label(self) -> str:
        """How a report names the method, e.g. ``"occlusion (grid 7×7, blurred baseline)"``."""
        return f"occlusion (grid {self.grid}×{self.grid}, {baseline_label(self.baseline)})"

    def map_shape(self, height: int, width: int) -> tuple[int, int]:
        """(rows, cols) of the maps of ``height`` x ``width`` images."""
        return patch_grid(height, width, grid=self.grid, stride=self.stride)[1]

    def passes_per_image(self, height: int, width: int) -> int:
        """Forward passes one map costs: one per patch and one for the clean image."""
        rows, cols = self.map_shape(height, width)
        return rows * cols + 1

    def heatmaps(self, images: np.ndarray, *, class_index: int | np.ndarray = 1,
                 batch_size: int = 64) -> np.ndarray:
        """(N, rows, cols) float32 occlusion maps of a uint8 batch (see :func:`occlusion_map`)."""
        return occlusion_map(images, self.predict_fn, class_index=class_index, grid=self.grid,
                             stride=self.stride, baseline=self.baseline, batch_size=batch_size)


def forward_batch(passes: int, batch_size: int) -> int:
    """The forward batch that splits one map's ``passes`` into equal batches of at most
    ``batch_size``: 50 passes at batch size 32 go as 2 x 25, not as 32 and 18 padded to 32."""
    calls = math.ceil(passes / max(1, batch_size))
    return math.ceil(passes / calls)


def explain_image(image: np.ndarray, predict_fn: Callable[[np.ndarray], np.ndarray], *,
                  class_index: int = 1, grid: int = DEFAULT_GRID,
                  baseline: str | float = "blur", batch_size: int = 64) -> np.ndarray:
    """The occlusion map of one image.

    Parameters
    ----------
    image : np.ndarray
        uint8 (H, W, 3) at the model's input size.
    predict_fn : callable
        As :func:`occlusion_map` (e.g. ``LoadedModel.predict_proba``).
    class_index : int
        The class explained (with (M,) probabilities: 1, or 0 for their complement).
    grid, baseline, batch_size
        As :func:`occlusion_map`; the defaults are the audit's.

    Returns
    -------
    np.ndarray
        float32 (grid, grid), non-negative: the drop of the explained class's probability when
        each patch is hidden. :func:`harness.explain.overlays.overlay` lays it over the image.
    """
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"image must be one uint8 image (H, W, 3), got shape {image.shape}")
    return occlusion_map(image[None], predict_fn, class_index=class_index, grid=grid,
                         baseline=baseline, batch_size=batch_size)[0]
