"""Dermoscopy artefacts: known answers on synthetic skin (hair area, vignette radius, bubble count,
ruler ticks), determinism and independence of the batch."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from perturbations import FAMILIES, Variant, achieved, apply
from perturbations.dermoscopy import (black_corners, bubble_layout, gel_bubbles, hair, hair_strands,
                                      ruler_marks, strand_coverage, tick_positions)

DERMOSCOPY = ("hair", "black_corners", "gel_bubbles", "ruler_marks")


def skin(h: int = 224, w: int = 224, n: int = 1, rgb=(205, 160, 140)) -> np.ndarray:
    """A flat light-skin batch with a faint gradient (so every pixel is not identical)."""
    img = np.empty((n, h, w, 3), dtype=np.uint8)
    img[:] = rgb
    img[..., 0] -= (np.arange(w) % 3).astype(np.uint8)[None, None, :]
    return img


def visible_length(points: np.ndarray, h: int, w: int) -> float:
    seg = np.diff(points, axis=0)
    mid = (points[1:] + points[:-1]) / 2
    inside = (mid[:, 0] >= 0) & (mid[:, 0] < w) & (mid[:, 1] >= 0) & (mid[:, 1] < h)
    return float(np.hypot(seg[inside, 0], seg[inside, 1]).sum())


def test_hair_area_is_the_drawn_strands_length_times_width_and_grows_with_severity():
    h, w = 300, 400
    clean = skin(h, w)
    areas = []
    for severity in (1, 2, 3):
        params = FAMILIES["hair"].table[severity]
        seeds = np.array([12345], dtype=np.uint64)
        out = hair(clean, hair_seeds=seeds, **params)
        strands = hair_strands(12345, h, w, **params)
        expected = sum(visible_length(s["points"], h, w) * s["width"] for s in strands) / (h * w)
        got = achieved(clean, out)["area"][0]
        # an anti-aliased edge whose change reaches ΔE 10 counts: under a pixel wider in all
        wider = sum(visible_length(s["points"], h, w) * (s["width"] + 1) for s in strands) / (h * w)
        if severity == 1:  # three strands barely overlap
            assert expected < got < wider
        assert 0.8 * expected < got < wider                 # crossings of many strands count once
        areas.append(got)
    assert areas[0] < areas[1] < areas[2]
    # the hair is dark: a covered pixel is much darker than the skin
    assert out.reshape(-1, 3).min(axis=0).max() < 60


@pytest.mark.parametrize("width", [1.0, 2.0, 3.5])
def test_a_straight_strand_covers_length_times_width(width):
    pts = np.stack([np.linspace(20, 180, 200), np.full(200, 50.3)], axis=1)
    coverage, _, _ = strand_coverage(pts, width, 100, 200)
    assert coverage.sum() / 160 == pytest.approx(width, rel=0.08)
    assert coverage.max() == pytest.approx(1.0, abs=0.02) if width >= 2 else coverage.max() > 0.5


def test_vignette_keeps_inside_blacks_outside_and_measures_the_analytic_area():
    h, w = 180, 260
    clean = skin(h, w)
    frac = 0.5                                             # r = 79 px: the circle fits inside
    out = black_corners(clean, radius_frac=frac)
    r = frac * math.hypot(h, w) / 2
    y, x = np.ogrid[:h, :w]
    d = np.sqrt((x - (w - 1) / 2) ** 2 + (y - (h - 1) / 2) ** 2)
    assert np.array_equal(out[0][d <= r - 0.5], clean[0][d <= r - 0.5])
    assert not out[0][d >= r + 0.5].any()
    assert achieved(clean, out)["area"][0] == pytest.approx(1 - math.pi * r**2 / (h * w), abs=0.01)
    blacked = [achieved(clean, apply(Variant("black_corners", s), clean))["area"][0] for s in range(1, 6)]
    assert np.all(np.diff(blacked) > 0)


def test_every_bubble_has_one_bright_rim():
    h, w = 320, 360
    clean = skin(h, w, rgb=(170, 125, 110))
    for severity in (1, 3, 5):
        params = FAMILIES["gel_bubbles"].table[severity]
        seed = 77 + severity
        out = gel_bubbles(clean, bubble_seeds=np.array([seed], dtype=np.uint64), **params)
        layout = bubble_layout(seed, h, w, **params)
        assert len(layout) == params["bubbles"]
        rim = (out[0].astype(int).sum(-1) - clean[0].astype(int).sum(-1)) > 150
        count, _ = cv2.connectedComponents(rim.astype(np.uint8), connectivity=8)
        assert count - 1 == params["bubbles"]
        for cx, cy, r in layout:                          # the interior is lighter, not white
            centre = out[0, int(round(cy)), int(round(cx))].astype(int)
            assert 0 < (centre - clean[0, int(round(cy)), int(round(cx))]).sum() < 150


@pytest.mark.parametrize("edge", ["bottom", "left"])
def test_ruler_ticks_are_at_the_expected_columns_and_rows(edge):
    h, w = 200, 300
    clean = skin(h, w)
    out = ruler_marks(clean, edge=edge, band_frac=0.1, band_opacity=0.8, spacing_frac=0.05)
    dark = out[0].astype(int).sum(-1) < 60
    line = dark[h - 3, :] if edge == "bottom" else dark[:, 2]
    length = w if edge == "bottom" else h
    expected = tick_positions(length, min(h, w), 0.05)
    assert np.array_equal(np.flatnonzero(line), expected)
    assert expected[:3].tolist() == [10, 20, 30]
    band = out[0, h - 18:, :] if edge == "bottom" else out[0, :, :18]
    assert band[..., 2].mean() > clean[0, ..., 2].mean() + 40   # the light band
    inner = out[0, : h - 21] if edge == "bottom" else out[0, :, 21:]
    assert np.array_equal(inner, clean[0, : h - 21] if edge == "bottom" else clean[0, :, 21:])


@pytest.mark.parametrize("family", DERMOSCOPY)
def test_deterministic_per_image_and_independent_of_batch_and_shape(family):
    batch = np.concatenate([skin(150, 210, rgb=(200, 150, 130)), skin(150, 210, rgb=(120, 80, 60)),
                            skin(150, 210, rgb=(230, 190, 170))])
    v = Variant(family, 3)
    ids = ["a", "b", "c"]
    whole = apply(v, batch, seed=4, image_ids=ids)
    assert whole.tobytes() == apply(v, batch, seed=4, image_ids=ids).tobytes()
    assert np.array_equal(apply(Variant(family, 0), batch, seed=4), batch)
    for i in range(3):
        alone = apply(v, batch[i:i + 1], seed=4, image_ids=ids[i:i + 1])
        assert np.array_equal(alone[0], whole[i])
    pair = apply(v, batch[1:], seed=4, image_ids=ids[1:])
    assert np.array_equal(pair, whole[1:])
    same = apply(v, np.concatenate([batch[:1], batch[:1]]), seed=4, image_ids=["a", "z"])
    if v.stochastic:  # another image id draws other strands / bubbles
        assert not np.array_equal(same[0], same[1])
    else:
        assert np.array_equal(same[0], same[1])
    a = achieved(batch, whole)["area"]
    assert np.all((a > 0) & (a < 1))
