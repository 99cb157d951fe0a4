"""Where the model looks (shares of heatmap mass) and the per-run drift summary."""
from __future__ import annotations

import json

import numpy as np
import pytest

from harness.explain.attention import DERMNET_WATERMARK, attention_shares, summarise_drift


def _masks(n: int, h: int, w: int):
    """Left half skin, a lesion square inside it, the right half background."""
    skin = np.zeros((n, h, w), dtype=bool)
    skin[:, :, : w // 2] = True
    lesion = np.zeros((n, h, w), dtype=bool)
    lesion[:, h // 4: h // 2, w // 8: w // 4 + w // 8] = True
    return skin, lesion


def test_uniform_map_gives_each_region_its_area():
    h = w = 64
    skin, lesion = _masks(2, h, w)
    shares = attention_shares(np.ones((2, 7, 7)), skin=skin, lesion=lesion, size=(h, w))
    assert shares["lesion"] == pytest.approx(shares["lesion_area"], abs=1e-6)
    assert shares["lesion_area"][0] == pytest.approx(16 * 16 / (64 * 64))
    assert shares["skin"] == pytest.approx(0.5 - shares["lesion_area"], abs=1e-6)
    assert shares["background"] == pytest.approx([0.5, 0.5], abs=1e-6)
    total = shares["lesion"] + shares["skin"] + shares["background"]
    np.testing.assert_allclose(total, 1.0, atol=1e-9)


def test_map_on_the_watermark_is_found():
    """A map whose mass sits in the lower-left box of a DermNet image: the watermark share is
    near 1, far above the box's area, and it counts as background (not skin)."""
    h = w = 224
    grid = np.zeros((1, 14, 14))
    x0, y0, x1, y1 = DERMNET_WATERMARK
    grid[0, int(np.ceil(y0 * 14)): int(y1 * 14), int(np.ceil(x0 * 14)): int(x1 * 14)] = 1.0
    skin = np.zeros((1, h, w), dtype=bool)
    skin[:, : h // 2] = True  # skin in the upper half only
    lesion = np.zeros_like(skin)
    shares = attention_shares(grid, skin=skin, lesion=lesion, size=(h, w),
                              region={"watermark": DERMNET_WATERMARK})
    assert shares["watermark"][0] > 0.9
    assert shares["watermark_area"][0] == pytest.approx((x1 - x0) * (y1 - y0), abs=0.01)
    assert shares["background"][0] == pytest.approx(1.0)
    # A mask works as a region too, and gives the same share as the equivalent box.
    box = np.zeros((h, w), dtype=bool)
    ys, xs = (np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w
    box[(ys >= y0) & (ys < y1)] = True
    box[:, (xs < x0) | (xs >= x1)] = False
    again = attention_shares(grid, skin=skin, lesion=lesion, size=(h, w), region={"wm": box})
    assert again["wm"][0] == pytest.approx(shares["watermark"][0])


def test_lesion_wins_where_masks_overlap_and_zero_map_is_undefined():
    h = w = 32
    skin = np.ones((2, h, w), dtype=bool)
    lesion = np.zeros_like(skin)
    lesion[:, :16] = True
    maps = np.stack([np.ones((4, 4)), np.zeros((4, 4))])
    shares = attention_shares(maps, skin=skin, lesion=lesion, size=(h, w))
    assert shares["lesion"][0] == pytest.approx(0.5) and shares["skin"][0] == pytest.approx(0.5)
    assert np.isnan(shares["lesion"][1]) and shares["lesion_area"][1] == 0.5


def test_bad_region_names_and_shapes():
    skin, lesion = _masks(1, 16, 16)
    with pytest.raises(ValueError, match="clashes"):
        attention_shares(np.ones((1, 4, 4)), skin=skin, lesion=lesion, size=(16, 16),
                         region={"skin": (0, 0, 1, 1)})
    with pytest.raises(ValueError, match="x0 < x1"):
        attention_shares(np.ones((1, 4, 4)), skin=skin, lesion=lesion, size=(16, 16),
                         region={"box": (0.5, 0, 0.2, 1)})
    with pytest.raises(ValueError, match="skin must be"):
        attention_shares(np.ones((1, 4, 4)), skin=skin[:, :8], lesion=lesion, size=(16, 16))


# -- summarise_drift ------------------------------------------------------------------------------


def _per_image(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    cosine = np.clip(1 - rng.exponential(0.05, n), -1, 1)
    shift = rng.exponential(0.02, n)
    return {"cosine": cosine, "centroid_shift": shift}


def test_summary_numbers_splits_and_json():
    n = 200
    per = _per_image(n)
    flipped = np.zeros(n, dtype=bool)
    flipped[::10] = True
    per["cosine"][flipped] -= 0.5  # flipped images drift more
    per["cosine"][3] = np.nan  # undefined for one held image
    groups = np.where(np.arange(n) < 150, "light", "dark")
    out = summarise_drift(per, flipped=flipped, groups=groups, n_boot=300, seed=0)
    json.dumps(out, allow_nan=False)  # plain JSON, no NaN anywhere

    assert out["metrics"] == {"cosine": "similarity", "centroid_shift": "distance"}
    assert list(out["by_group"]) == ["dark", "light"]
    held = out["overall"]["held"]["cosine"]
    assert out["overall"]["held"]["n"] == 180 and held["n"] == 179 and held["n_undefined"] == 1
    ok = ~flipped & np.isfinite(per["cosine"])
    assert held["median"] == pytest.approx(np.median(per["cosine"][ok]))
    q25, q75 = np.percentile(per["cosine"][ok], [25, 75])
    assert held["iqr"] == pytest.approx(q75 - q25)
    lo, hi = held["median_ci"]
    assert lo <= held["median"] <= hi and hi - lo < 0.05
    flip = out["overall"]["flipped"]["cosine"]
    assert flip["n"] == 20 and flip["median"] < held["median"] - 0.4
    dark = out["by_group"]["dark"]
    assert dark["all"]["n"] == 50 and dark["flipped"]["n"] == 5
    # 5 flipped dark images: point estimates, but too few for an interval -- and it says so.
    assert dark["flipped"]["cosine"]["median_ci"] is None
    assert "fewer than 10" in dark["flipped"]["cosine"]["reason"]


def test_summary_is_deterministic_and_a_group_does_not_depend_on_the_others():
    per = _per_image(120, seed=1)
    flipped = np.zeros(120, dtype=bool)
    groups = np.repeat(["a", "b", "c"], 40)
    one = summarise_drift(per, flipped=flipped, groups=groups, n_boot=200, seed=7)
    assert json.dumps(one) == json.dumps(summarise_drift(per, flipped=flipped, groups=groups,
                                                          n_boot=200, seed=7))
    keep = groups != "c"
    fewer = summarise_drift({k: v[keep] for k, v in per.items()}, flipped=flipped[keep],
                            groups=groups[keep], n_boot=200, seed=7)
    assert fewer["by_group"]["a"] == one["by_group"]["a"]
    other_seed = summarise_drift(per, flipped=flipped, groups=groups, n_boot=200, seed=8)
    assert other_seed["by_group"]["a"]["all"]["cosine"]["median_ci"] != \
        one["by_group"]["a"]["all"]["cosine"]["median_ci"]


def test_summary_of_empty_split_says_so():
    per = _per_image(12)
    out = summarise_drift(per, flipped=np.zeros(12, dtype=bool), groups=np.array(["g"] * 12))
    empty = out["overall"]["flipped"]["cosine"]
    assert empty["n"] == 0 and empty["median"] is None and empty["reason"] == "no images"
    with pytest.raises(ValueError, match="groups must be"):
        summarise_drift(per, flipped=np.zeros(12, dtype=bool), groups=np.array(["g"] * 11))
