"""Grad-CAM drift on real DermNet NZ images: a noise floor that is exactly zero for a re-run, and
drift that grows with the blur of the photograph."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from model_factories import dermnet_spread

keras = pytest.importorskip("keras")

from harness.explain.attention import drift, noise_floor  # noqa: E402
from harness.explain.gradcam import GradCam  # noqa: E402

SIGMAS = (0.5, 1.0, 1.5, 2.0, 3.0)  # blur severities 1-5, Gaussian sigma in pixels at 224 px
N_IMAGES = 24


def _blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """The ladder's blur (``perturbations.apply``) where it is available; otherwise the same
    kernel written out: OpenCV Gaussian, side 2 * ceil(4 sigma) + 1, mirrored borders."""
    try:
        from perturbations import apply, ladder
    except ImportError:
        k = 2 * math.ceil(4 * sigma) + 1
        return np.stack([cv2.GaussianBlur(im, (k, k), sigma, sigmaY=sigma,
                                          borderType=cv2.BORDER_REFLECT_101) for im in images])
    severity = SIGMAS.index(sigma) + 1
    (variant,) = ladder(["blur"], [severity])
    assert variant.requested == {"sigma_px": sigma}
    return apply(variant, images)


@pytest.fixture(scope="module")
def images(dermnet_test) -> np.ndarray:
    return dermnet_spread(dermnet_test, N_IMAGES)  # both classes, spread out


@pytest.fixture(scope="module")
def run(nested_mobilenet, images):
    cam = GradCam(keras.saving.load_model(nested_mobilenet))
    clean = cam.heatmaps(images, batch_size=8)
    floor = noise_floor(cam, images, clean=clean, batch_size=8)
    blurred = {s: drift(clean, cam.heatmaps(_blur(images, s), batch_size=8), size=(224, 224))
               for s in SIGMAS}
    return clean, floor, blurred


def test_identity_noise_floor_is_exact(run):
    clean, floor, _ = run
    assert np.all(clean.reshape(len(clean), -1).max(axis=1) > 0)  # every map has evidence
    identity = floor["identity"]
    assert np.all(identity["spearman"] == 1.0)
    assert np.all(identity["cosine"] == 1.0)
    assert np.all(identity["centroid_shift"] == 0.0)


def test_drift_grows_monotonically_with_blur(run):
    _, floor, blurred = run
    cos_drift = [float(np.median(1 - blurred[s]["cosine"])) for s in SIGMAS]
    rank_drift = [float(np.median(1 - blurred[s]["spearman"])) for s in SIGMAS]
    assert all(a < b for a, b in zip(cos_drift, cos_drift[1:])), cos_drift
    assert all(a < b for a, b in zip(rank_drift, rank_drift[1:])), rank_drift
    # The strongest blur moves the map far beyond the one-pixel-shift noise floor.
    shift = float(np.median(1 - floor["shift_1px"]["cosine"]))
    assert cos_drift[-1] > 5 * shift > 0
