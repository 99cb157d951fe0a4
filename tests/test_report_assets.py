"""Thumbnails, skin-colour swatches and number formatting: known answers."""
from __future__ import annotations

import base64
import io
import math

import cv2
import numpy as np
import pytest
from PIL import Image

from reports import fmt
from reports.assets import Thumbnails, save_thumbnail, thumbnail_path
from reports.colour import hex_colour, lab_to_srgb, skin_lab_for_ita, swatch


def _gradient(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), np.full((h, w), 90)],
                    axis=-1).astype(np.uint8)


def test_save_thumbnail_shrinks_keeps_aspect_and_returns_relative_path(tmp_path):
    rel = save_thumbnail(tmp_path, "clean/7", _gradient(300, 450))
    assert rel == "thumbs/clean/7.jpg"
    img = Image.open(tmp_path / rel)
    assert img.format == "JPEG" and img.mode == "RGB"
    assert img.size == (128, 85)   # 450x300 -> longer side 128, aspect kept
    small = save_thumbnail(tmp_path, "blur@3/7", _gradient(40, 60), max_side=128)
    assert Image.open(tmp_path / small).size == (60, 40)   # never enlarged


def test_thumbnail_colours_survive_and_bytes_are_stable(tmp_path):
    img = np.zeros((64, 64, 3), np.uint8)
    img[:] = (200, 120, 90)
    save_thumbnail(tmp_path, "clean/0", img)
    first = thumbnail_path(tmp_path, "clean/0").read_bytes()
    save_thumbnail(tmp_path, "clean/0", img)
    assert thumbnail_path(tmp_path, "clean/0").read_bytes() == first
    back = np.asarray(Image.open(io.BytesIO(first)))
    assert np.abs(back.astype(int) - (200, 120, 90)).max() <= 3


def test_grey_rgba_and_float_images_are_accepted(tmp_path):
    save_thumbnail(tmp_path, "clean/1", np.full((20, 30), 128, np.uint8))
    save_thumbnail(tmp_path, "clean/2", np.zeros((20, 30, 4), np.uint8))
    save_thumbnail(tmp_path, "gradcam/clean/3", np.full((20, 30, 3), 0.5, np.float32))
    px = np.asarray(Image.open(thumbnail_path(tmp_path, "gradcam/clean/3")))
    assert abs(int(px.mean()) - 128) <= 2
    with pytest.raises(ValueError):
        save_thumbnail(tmp_path, "clean/4", np.zeros((5, 5, 2), np.uint8))


@pytest.mark.parametrize("key", ["../x", "/abs/1", "a//b", "a\\b", "", "clean/..", "clean/<i>", "a/ b"])
def test_unsafe_keys_are_refused(tmp_path, key):
    with pytest.raises(ValueError):
        save_thumbnail(tmp_path, key, np.zeros((8, 8, 3), np.uint8))
    assert not (tmp_path.parent / "x.jpg").exists()


def test_thumbnails_become_data_uris(tmp_path):
    save_thumbnail(tmp_path, "clean/3", _gradient(50, 50))
    save_thumbnail(tmp_path, "clean/10", _gradient(50, 50))
    thumbs = Thumbnails(tmp_path)
    uri = thumbs.uri("clean/3")
    assert uri.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == thumbnail_path(tmp_path, "clean/3").read_bytes()
    assert thumbs.uri("clean/99") is None and thumbs.uri("../etc/passwd") is None
    assert thumbs.keys_under("clean") == ["clean/3", "clean/10"]   # numeric order


def test_lab_to_srgb_matches_opencv():
    rng = np.random.default_rng(0)
    lab = np.stack([rng.uniform(5, 95, 500), rng.uniform(-30, 40, 500), rng.uniform(-20, 45, 500)], axis=1)
    ours = lab_to_srgb(lab).astype(int)
    ref = cv2.cvtColor(lab.astype(np.float32)[None], cv2.COLOR_Lab2RGB)[0]
    ref = np.clip(np.round(ref * 255), 0, 255).astype(int)
    assert np.abs(ours - ref).max() <= 1
    assert hex_colour(lab_to_srgb(np.array([100.0, 0, 0]))) == "#ffffff"
    assert hex_colour(lab_to_srgb(np.array([0.0, 0, 0]))) == "#000000"


@pytest.mark.parametrize("ita", [62.0, 48.0, 34.0, 19.0, -10.0, -45.0])
def test_typical_skin_colour_has_the_requested_ita(ita):
    L, a, b = skin_lab_for_ita(ita)
    assert math.degrees(math.atan2(L - 50, b)) == pytest.approx(ita, abs=1e-9)
    assert 8 <= a <= 14 and 10 <= b <= 22


def test_swatches_darken_with_ita_and_prefer_measured_colour():
    lum = []
    for ita in (60, 45, 30, 15, -10, -40):
        r, g, b = (int(swatch(ita=ita)[i:i + 2], 16) for i in (1, 3, 5))
        lum.append(0.2126 * r + 0.7152 * g + 0.0722 * b)
    assert lum == sorted(lum, reverse=True)
    assert swatch(ita=50, L=30.0, b=15.0) == hex_colour(lab_to_srgb(np.array([30.0, 10.0, 15.0])))
    assert swatch() is None and swatch(ita=float("nan")) is None


def test_number_formatting():
    assert fmt.num(0.81249) == "0.812" and fmt.num(0.8125) in ("0.812", "0.813")
    assert fmt.num(-0.0001) == "0.000" and fmt.num(-0.25) == "−0.250"
    assert fmt.num(0.1, signed=True) == "+0.100" and fmt.num(None) == "—"
    assert fmt.num(float("nan")) == "—" and fmt.num(True) == "—"
    assert fmt.interval([0.1, 0.25]) == "[0.100, 0.250]" and fmt.interval(None) == ""
    assert fmt.pct(1, 3) == "33.3%" and fmt.pct(1, 0) == "—"
    assert fmt.human_size(2_400_000) == "2.3 MB" and fmt.human_size(900) == "900 B"
    cell = fmt.estimate({"value": 0.5, "ci": [0.4, 0.6], "n": 40})
    assert (cell["kind"], cell["value"], cell["ci"], cell["n"]) == ("ok", "0.500", "[0.400, 0.600]", "n=40")
    cell = fmt.estimate({"value": None, "ci": None, "n": 0, "reason": "no positives"})
    assert (cell["kind"], cell["value"], cell["note"]) == ("undefined", "undefined", "no positives")
    cell = fmt.estimate(None, status="insufficient", status_n=12, reason="too few to judge: 12 images")
    assert (cell["kind"], cell["value"], cell["mark"]) == ("insufficient", "too few to judge (n=12)", "")
    assert fmt.params({"L_factor": 0.8, "sigma": 2.0, "kernel": "gauss"}) == "L_factor=0.8, sigma=2, kernel=gauss"
