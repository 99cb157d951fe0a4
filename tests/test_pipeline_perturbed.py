"""The audit perturbs a few images (Grad-CAM misses, thumbnails) without perturbing the rest:
``PerturbedImages.subset`` must equal the whole-batch ladder row for row, for every family."""
from __future__ import annotations

import numpy as np
import pytest

from harness.pipeline.ladder import PerturbedImages, RegionMasks
from harness.pipeline.timer import Timer
from model_factories import dermnet_batch
from perturbations import FAMILIES, ladder
from subgroups import load_config


@pytest.fixture(scope="module")
def ladder_parts(dermnet_test):
    images = dermnet_batch(dermnet_test, size=96, n=10)
    ids = [f"img{i}" for i in range(len(images))]
    timer = Timer()
    return images, ids, RegionMasks(images, timer, skin_tone=load_config()), timer


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_subset_equals_the_whole_batch_rows(ladder_parts, family):
    images, ids, masks, timer = ladder_parts
    (variant,) = ladder([family], [3])
    idx = np.array([7, 2, 5])
    whole = PerturbedImages(images, ids, masks, seed=3, timer=timer)(variant)
    part = PerturbedImages(images, ids, masks, seed=3, timer=timer).subset(variant, idx)
    assert part.dtype == np.uint8 and part.shape == (3,) + images.shape[1:]
    np.testing.assert_array_equal(part, whole[idx])
    assert not np.array_equal(whole, images)  # severity 3 changed something
