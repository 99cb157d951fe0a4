"""Occlusion saliency: known answers on models whose evidence is known, and drift 0 for the
identity, on real DermNet NZ images where it matters."""
from __future__ import annotations

import numpy as np
import pytest

from harness.explain.attention import drift
from harness.explain.occlusion import baseline_image, occlusion_map, patch_grid
from model_factories import dermnet_batch, write_sidecar


def test_patches_tile_the_image_or_slide_by_the_stride():
    patches, shape = patch_grid(224, 224, grid=8)
    assert shape == (8, 8) and len(patches) == 64
    cover = np.zeros((224, 224), int)
    for rows, cols in patches:
        assert (rows.stop - rows.start, cols.stop - cols.start) == (28, 28)
        cover[rows, cols] += 1
    assert (cover == 1).all()
    patches, shape = patch_grid(32, 30, grid=3)
    assert shape == (3, 3)
    assert [(r.start, r.stop) for r, _ in patches[::3]] == [(0, 11), (11, 21), (21, 32)]
    assert [(c.start, c.stop) for _, c in patches[:3]] == [(0, 10), (10, 20), (20, 30)]
    patches, shape = patch_grid(32, 32, grid=4, stride=4)
    assert shape == (7, 7) and patches[-1] == (slice(24, 32), slice(24, 32))
    with pytest.raises(ValueError, match="grid must be an int in 1..32"):
        patch_grid(32, 32, grid=33)


def test_hiding_each_patch_of_a_white_image_drops_mean_brightness_by_its_share():
    images = np.full((2, 64, 64, 3), 255, np.uint8)

    def brightness(batch):
        return batch.reshape(len(batch), -1).mean(axis=1) / 255.0

    maps = occlusion_map(images, brightness, class_index=1, grid=8, baseline=0)
    assert maps.shape == (2, 8, 8) and maps.dtype == np.float32
    np.testing.assert_allclose(maps, 1 / 64, rtol=1e-6)
    # the complement class gains what class 1 loses: no evidence for it anywhere
    assert (occlusion_map(images, brightness, class_index=0, grid=8, baseline=0) == 0).all()


def test_a_bright_spot_in_one_quadrant_is_where_the_map_peaks():
    image = np.full((64, 64, 3), 120, np.uint8)
    image[9:15, 41:47] = 255  # inside patch (row 1, col 5) of an 8 x 8 grid

    def bright_fraction_top_right(batch):
        quadrant = batch[:, :32, 32:].astype(np.float64).mean(axis=3)
        return (quadrant > 200).mean(axis=(1, 2))

    maps = occlusion_map(image[None], bright_fraction_top_right, class_index=1, grid=8)
    assert np.unravel_index(maps[0].argmax(), (8, 8)) == (1, 5)
    np.testing.assert_allclose(maps[0, 1, 5], 36 / 1024, rtol=1e-6)  # blurred: no pixel > 200
    rest = maps[0].copy()
    rest[1, 5] = 0
    assert (rest == 0).all()


def test_a_model_that_reads_one_quadrant_of_real_images_is_blind_elsewhere(dermnet_test):
    images = dermnet_batch(dermnet_test, size=64, n=6)

    def texture_top_left(batch):  # a probability from the detail of the top-left quadrant
        gray = batch[:, :32, :32].astype(np.float64).mean(axis=3)
        return 1.0 / (1.0 + np.exp(-(gray.std(axis=(1, 2)) / 10.0 - 1.0)))

    maps = occlusion_map(images, texture_top_left, class_index=1, grid=4, batch_size=5)
    assert maps.shape == (6, 4, 4)
    outside = np.ones((4, 4), bool)
    outside[:2, :2] = False
    assert (maps[:, outside] == 0).all()
    assert (maps[:, :2, :2] > 0).mean() > 0.9  # blurring a patch of skin lowers its detail
    peaks = [np.unravel_index(m.argmax(), (4, 4)) for m in maps]
    assert all(r < 2 and c < 2 for r, c in peaks)


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory):
    from harness.models.open import open_model
    from onnx_factories import conv_net

    path = conv_net(tmp_path_factory.mktemp("occ") / "m.onnx")
    write_sidecar(path, class_names=["atopic_dermatitis", "eczema"], positive_class="eczema",
                  preprocessing="imagenet_torch")
    return open_model(str(path))


def test_identity_gives_zero_drift_on_an_onnx_model(onnx_model, dermnet_test):
    images = dermnet_batch(dermnet_test, size=32, n=8)
    clean = occlusion_map(images, onnx_model.predict_proba, class_index=1, grid=4)
    same = occlusion_map(images.copy(), onnx_model.predict_proba, class_index=1, grid=4,
                         batch_size=5)
    assert (clean.reshape(8, -1).max(axis=1) > 0).all()  # every map has evidence somewhere
    d = drift(clean, same, size=(32, 32))
    np.testing.assert_allclose(d["cosine"], 1.0, atol=1e-6)
    np.testing.assert_allclose(d["centroid_shift"], 0.0, atol=1e-6)
    flipped = occlusion_map(images[:, :, ::-1].copy(), onnx_model.predict_proba, class_index=1,
                            grid=4)
    assert (drift(clean, flipped, size=(32, 32))["cosine"] < 0.99).any()  # a real change moves it


def test_class_probabilities_and_baselines(onnx_model, dermnet_test):
    images = dermnet_batch(dermnet_test, size=32, n=3)

    def both(batch):
        p = onnx_model.predict_proba(batch)
        return np.stack([1 - p, p], axis=1)

    for cls in (0, 1):
        np.testing.assert_allclose(
            occlusion_map(images, both, class_index=cls, grid=4, baseline="mean"),
            occlusion_map(images, onnx_model.predict_proba, class_index=cls, grid=4,
                          baseline="mean"), atol=1e-7)
    with pytest.raises(ValueError, match="class_index 2 is out of range for 2 classes"):
        occlusion_map(images, both, class_index=2, grid=4)
    with pytest.raises(ValueError, match="baseline must be one of blur, mean"):
        occlusion_map(images, both, class_index=1, grid=4, baseline="noise")
    mean = baseline_image(images[0], baseline="mean", patch=8)
    assert (mean == np.rint(images[0].reshape(-1, 3).mean(axis=0))).all()
