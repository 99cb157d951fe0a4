"""decode_image: colour modes, 16-bit scaling, alpha over white, EXIF orientation, resizing.

Known answers on small arrays written in real file formats (PNG, TIFF, GIF, JPEG), plus real
DermNet photographs for orientation, CMYK JPEG and reduced-scale decoding.
"""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from harness.data.decode import BadImage, decode_bytes, decode_image, resize


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _over_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Reference compositing in floating point: c * a + 255 * (1 - a), a in [0, 1]."""
    a = alpha.astype(np.float64)[..., None] / 255.0
    return np.rint(rgb.astype(np.float64) * a + 255.0 * (1.0 - a)).astype(np.uint8)


@pytest.fixture(scope="module")
def real_jpeg(dermnet_test) -> bytes:
    return sorted((dermnet_test / "eczema").glob("*.jpg"))[0].read_bytes()


# -- colour modes -------------------------------------------------------------------------------

def test_rgba_is_composited_over_white():
    rgb = np.array([[[200, 100, 50], [0, 0, 0], [0, 0, 0], [100, 50, 0]]], dtype=np.uint8)
    alpha = np.array([[255, 0, 128, 128]], dtype=np.uint8)
    data = _encode(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "PNG")
    out = decode_image(data, size=None)
    assert out.dtype == np.uint8 and out.shape == (1, 4, 3)
    np.testing.assert_array_equal(out, _over_white(rgb, alpha))
    assert out[0, 0].tolist() == [200, 100, 50]  # opaque: unchanged
    assert out[0, 1].tolist() == [255, 255, 255]  # transparent: white
    assert out[0, 2].tolist() == [127, 127, 127]  # half-transparent black: mid grey


def test_la_is_composited_over_white():
    gray = np.array([[10, 10, 240]], dtype=np.uint8)
    alpha = np.array([[255, 0, 64]], dtype=np.uint8)
    data = _encode(Image.fromarray(np.dstack([gray, alpha]), "LA"), "PNG")
    out = decode_image(data, size=None)
    expected = _over_white(np.repeat(gray[..., None], 3, axis=2), alpha)
    np.testing.assert_array_equal(out, expected)
    assert out[0, 1].tolist() == [255, 255, 255]


def test_palette_with_transparency_is_composited_over_white():
    image = Image.new("P", (3, 1))
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    image.putdata([0, 1, 2])
    out_png = decode_image(_encode(image, "PNG", transparency=0), size=None)
    out_gif = decode_image(_encode(image, "GIF", transparency=0), size=None)
    for out in (out_png, out_gif):
        assert out[0].tolist() == [[255, 255, 255], [255, 0, 0], [0, 0, 255]]
    opaque = decode_image(_encode(image, "PNG"), size=None)  # no transparency: plain palette
    assert opaque[0].tolist() == [[0, 0, 0], [255, 0, 0], [0, 0, 255]]


def test_cmyk_tiff_is_converted_to_rgb():
    cmyk = np.array([[[0, 0, 0, 0], [255, 0, 0, 0], [0, 0, 0, 255], [0, 128, 0, 0], [64, 0, 0, 128]]],
                    dtype=np.uint8)
    out = decode_image(_encode(Image.fromarray(cmyk, "CMYK"), "TIFF"), size=None)
    c, m, y, k = (cmyk[..., i].astype(np.float64) for i in range(4))
    expected = np.rint(np.stack([(255 - c) * (255 - k), (255 - m) * (255 - k),
                                 (255 - y) * (255 - k)], axis=-1) / 255.0).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)
    assert out[0, 0].tolist() == [255, 255, 255] and out[0, 2].tolist() == [0, 0, 0]
    assert out[0, 1].tolist() == [0, 255, 255]  # pure cyan


def test_cmyk_jpeg_of_real_photo_matches_its_rgb_original(real_jpeg):
    rgb_image = Image.open(io.BytesIO(real_jpeg))
    cmyk_data = _encode(rgb_image.convert("CMYK"), "JPEG", quality=95)
    assert Image.open(io.BytesIO(cmyk_data)).mode == "CMYK"
    original = decode_image(real_jpeg, size=None).astype(np.int16)
    from_cmyk = decode_image(cmyk_data, size=None).astype(np.int16)
    assert from_cmyk.shape == original.shape
    assert np.abs(from_cmyk - original).mean() < 3.0  # JPEG re-compression only


def test_grayscale_and_bilevel_become_three_equal_channels():
    gray = np.array([[0, 77, 255]], dtype=np.uint8)
    out = decode_image(_encode(Image.fromarray(gray, "L"), "PNG"), size=None)
    np.testing.assert_array_equal(out, np.repeat(gray[..., None], 3, axis=2))
    bits = Image.fromarray(np.array([[0, 255, 0, 255]], dtype=np.uint8)).convert("1")
    out = decode_image(_encode(bits, "PNG"), size=None)
    assert out[0, :, 0].tolist() == [0, 255, 0, 255] and (out[..., 0] == out[..., 2]).all()


SIXTEEN = np.array([[0, 128, 129, 200, 257, 32768, 65535]], dtype=np.uint16)
SIXTEEN_EXPECTED = [0, 0, 1, 1, 1, 128, 255]  # round(v * 255 / 65535), not v // 256 nor a clip


@pytest.mark.parametrize("fmt,dtype", [("PNG", "<u2"), ("TIFF", "<u2"), ("TIFF", ">u2")])
def test_sixteen_bit_grayscale_is_scaled_not_clipped(fmt, dtype):
    image = Image.fromarray(SIXTEEN.astype(dtype))
    data = _encode(image, fmt)
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    out = decode_image(data, size=None)
    assert out[0, :, 0].tolist() == SIXTEEN_EXPECTED
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_thirty_two_bit_integer_is_read_on_the_16_bit_scale():
    values = np.array([[0, 32768, 65535, 70000, -5]], dtype=np.int32)
    data = _encode(Image.fromarray(values), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "I"
    assert decode_image(data, size=None)[0, :, 0].tolist() == [0, 128, 255, 255, 0]


def test_sixteen_bit_rgb_png_keeps_its_scale():
    rgb16 = np.zeros((2, 2, 3), dtype=np.uint16)
    rgb16[..., 0], rgb16[..., 1], rgb16[..., 2] = 32768, 65535, 257
    ok, encoded = cv2.imencode(".png", rgb16[..., ::-1])  # OpenCV writes BGR
    assert ok
    out = decode_image(encoded.tobytes(), size=None)
    assert out[0, 0].tolist() == [128, 255, 1]


@pytest.mark.parametrize("values,expected", [
    ([0.0, 0.5, 1.0, 0.25], [0, 128, 255, 64]),          # [0, 1] data, scaled by 255
    ([0.0, 100.4, 300.0, -3.0], [0, 100, 255, 0]),        # 0..255 data, rounded and clipped
])
def test_float_images(values, expected):
    data = _encode(Image.fromarray(np.array([values], dtype=np.float32), "F"), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "F"
    assert decode_image(data, size=None)[0, :, 0].tolist() == expected


# -- EXIF orientation ---------------------------------------------------------------------------

def _with_orientation(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(image, "JPEG", quality=95, exif=exif.tobytes())


@pytest.mark.parametrize("orientation,k", [(3, 2), (6, -1), (8, 1)])
def test_exif_orientation_of_real_photo(real_jpeg, orientation, k):
    photo = Image.open(io.BytesIO(real_jpeg))
    plain = decode_bytes(_with_orientation(photo, 1), size=None)
    turned, upright = decode_bytes(_with_orientation(photo, orientation), size=None)
    # Same compressed pixels, so the oriented decode is exactly the plain one rotated.
    np.testing.assert_array_equal(turned, np.rot90(plain[0], k=k))
    assert upright == (turned.shape[1], turned.shape[0])
    assert upright == ((480, 640) if orientation in (6, 8) else (640, 480))


def test_exif_orientation_applies_before_resizing():
    stored = np.full((60, 120, 3), 40, dtype=np.uint8)  # wide, dark, a red block top-left
    stored[:20, :30] = (255, 0, 0)
    data = _with_orientation(Image.fromarray(stored), 6)  # display: rotate 90 degrees clockwise
    out = decode_image(data, size=(30, 60))  # upright picture is 60 wide... squashed to 30x60
    assert out.shape == (60, 30, 3)
    # After a clockwise quarter turn the stored top-left corner is at the top right.
    assert out[:10, -8:, 0].mean() > 200 and out[:10, -8:, 1].mean() < 60
    assert out[-10:, :8, 0].mean() < 80


# -- resizing -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)


def test_shrinking_uses_inter_area(texture):
    out = decode_image(_encode(Image.fromarray(texture), "PNG"), size=(20, 15))
    assert out.shape == (15, 20, 3)
    np.testing.assert_array_equal(out, cv2.resize(texture, (20, 15), interpolation=cv2.INTER_AREA))
    assert not np.array_equal(out, cv2.resize(texture, (20, 15), interpolation=cv2.INTER_LINEAR))


def test_enlarging_uses_inter_linear(texture):
    out = decode_image(_encode(Image.fromarray(texture), "PNG"), size=(100, 70))
    assert out.shape == (70, 100, 3)
    np.testing.assert_array_equal(out, cv2.resize(texture, (100, 70), interpolation=cv2.INTER_LINEAR))


def test_mixed_resize_shrinks_with_area_then_enlarges_linearly(texture):
    out = resize(texture, (32, 96))  # width 64 -> 32 shrinks, height 48 -> 96 grows
    step = cv2.resize(texture, (32, 48), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(out, cv2.resize(step, (32, 96), interpolation=cv2.INTER_LINEAR))


def test_resize_squashes_without_keeping_aspect(real_jpeg):
    out = decode_image(real_jpeg, size=(224, 224))  # 640x480 -> square: no crop, no padding
    full = decode_image(real_jpeg, size=None)
    assert out.shape == (224, 224, 3) and full.shape == (480, 640, 3)
    # The whole picture is kept: the squashed image matches the full one squashed by OpenCV.
    reference = cv2.resize(full, (224, 224), interpolation=cv2.INTER_AREA).astype(np.int16)
    assert np.abs(out.astype(np.int16) - reference).mean() < 2.0


def test_reduced_scale_jpeg_decoding_is_close_and_repeatable(dermnet_test):
    files = sorted(dermnet_test.glob("*/*.jpg"))[:12]
    diffs = []
    for file in files:
        data = file.read_bytes()
        fast, size_fast = decode_bytes(data, size=(224, 224))
        again, _ = decode_bytes(data, size=(224, 224))
        full, size_full = decode_bytes(data, size=(224, 224), draft=False)
        np.testing.assert_array_equal(fast, again)
        assert size_fast == size_full == (640, 480)  # original size, not the reduced one
        diffs.append(np.abs(fast.astype(np.int16) - full.astype(np.int16)).mean())
    assert 0.0 < float(np.mean(diffs)) < 2.0


def test_path_and_bytes_decode_identically(dermnet_test):
    file = sorted(dermnet_test.glob("*/*.jpg"))[3]
    from_path = decode_image(file, size=(96, 64))
    from_str = decode_image(str(file), size=(96, 64))
    from_bytes = decode_image(file.read_bytes(), size=(96, 64))
    np.testing.assert_array_equal(from_path, from_bytes)
    np.testing.assert_array_equal(from_str, from_bytes)
    assert from_path.flags.writeable and from_path.flags.c_contiguous


# -- errors -------------------------------------------------------------------------------------

def test_bad_image_from_path_names_the_file(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"")
    with pytest.raises(BadImage) as info:
        decode_image(bad, size=(32, 32))
    assert info.value.reason == "empty file"
    assert str(bad) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(BadImage) as info:
        decode_image(tmp_path / "absent.jpg", size=None)
    assert info.value.reason == "file not found"


@pytest.mark.parametrize("size", [(0, 10), (10,), (10.0, 10), "224", (True, 3)])
def test_size_must_be_two_positive_ints(size):
    with pytest.raises(ValueError, match="size must be"):
        decode_image(b"not read", size=size)
