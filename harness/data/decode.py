"""Decode one image file into the array every later stage works on: RGB, uint8, model-sized.

The decoding policy, fixed so that the same bytes always give the same pixels:

* **Orientation.** The EXIF ``Orientation`` tag is applied (``ImageOps.exif_transpose``), so the
  array is the picture as a viewer shows it. ``size`` refers to that upright picture.
* **Colour modes.** Every mode becomes RGB uint8:

  - ``RGB`` as is; ``L`` (grayscale) repeated into three channels; ``1`` (bilevel) as 0/255.
  - ``CMYK`` through Pillow's conversion (Adobe-inverted JPEGs are handled by Pillow's reader).
    Embedded ICC profiles are not applied, as in Keras' loaders.
  - ``RGBA``, ``LA``, ``PA``, ``RGBa`` and palette images with transparency are composited over
    **white**: ``out = (rgb * a + 255 * (255 - a)) / 255``, rounded. A transparent background is
    what a viewer shows as the page, and black would read as very dark skin to a skin-tone
    estimator.
  - 16-bit grayscale (``I;16``, ``I;16L``, ``I;16B``) is scaled, not clipped:
    ``round(v * 255 / 65535)``, so 65535 -> 255 and 32768 -> 128. 32-bit ``I`` is read on the
    same 16-bit scale (values outside 0..65535 are clipped). 16-bit RGB PNGs are reduced to 8 bits
    by Pillow's reader (high byte, i.e. ``v // 256``).
  - ``F`` (float): values within [0, 1] are scaled by 255; an image with any value above 1 is read
    as already on the 0..255 scale. NaN becomes 0; the result is rounded and clipped to 0..255.
  - Other modes (``P`` without transparency, ``YCbCr``, ``LAB``, ``HSV``, ``RGBX``...) go through
    Pillow's ``convert("RGB")``.
  - Multi-frame files (GIF, TIFF) contribute their first frame.
* **Resizing** to ``size=(width, height)`` is a plain resize (the aspect ratio is not kept: no crop,
  no padding), which is what Keras' ``image_dataset_from_directory`` does by default. An axis that
  shrinks is resampled with ``cv2.INTER_AREA`` (pixel-area averaging, no aliasing); an axis that
  grows with ``cv2.INTER_LINEAR``. When one axis shrinks and the other grows, the image is first
  area-resampled to the smaller size on the shrinking axis, then linearly enlarged on the other.
* **Reduced-scale JPEG decoding.** When a JPEG is at least twice the target size on both axes,
  libjpeg decodes it directly at 1/2, 1/4 or 1/8 scale (Pillow's ``draft``; the largest reduction
  that stays at or above the target size), then ``INTER_AREA`` does the rest. This is about twice
  as fast and deterministic (same bytes and size, same pixels); against a full-scale decode
  followed by ``INTER_AREA`` it differs by under one grey level on average. ``DECODER_VERSION``
  names this policy so that caches keyed on decoded pixels can include it.
* **Decompression bombs.** An image whose header announces more than ``max_pixels`` pixels is
  refused before any pixel is decoded, as is anything Pillow itself refuses as a bomb
  (``DecompressionBombError``, and ``DecompressionBombWarning`` where the caller's warning filters
  turn it into an error, as ``harness.data.load.load_dataset`` does).

Undecodable input raises ``BadImage`` whose ``reason`` is one of the short, stable strings below.
"""
from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from harness.errors import UserError

__all__ = [
    "BadImage",
    "DECODER_VERSION",
    "DEFAULT_MAX_PIXELS",
    "decode_image",
    "decode_bytes",
    "resize",
    "to_rgb",
]

#: Names the decoding policy above; change it whenever decoded pixels can change.
DECODER_VERSION = "pil-exif-rgb-white-draft-area-linear-v1"

#: Default pixel limit: 100 megapixels (a 10000 x 10000 image).
DEFAULT_MAX_PIXELS = 100_000_000

# Reasons (stable strings: results.json and tests rely on them).
EMPTY_FILE = "empty file"
TRUNCATED = "truncated image"
CORRUPT = "corrupt image data"
UNRECOGNISED = "unrecognised image content"
BOMB = "decompression bomb"
UNSUPPORTED_MODE = "unsupported image mode"
UNREADABLE = "unreadable file"
FILE_NOT_FOUND = "file not found"

# Leading bytes of the formats Pillow reads: bytes that start like an image but do not decode are
# corrupt; bytes that start like nothing known are not an image at all.
_SIGNATURES = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",  # TIFF little-endian
    b"MM\x00*",  # TIFF big-endian
    b"RIFF",  # WebP (RIFF....WEBP)
)

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_DRAFT_MODES = frozenset({"RGB", "L", "CMYK", "YCbCr"})


class BadImage(UserError):
    """Input that cannot be decoded into an image.

    ``reason`` is a short stable string (e.g. ``"truncated image"``); ``file`` names the file when
    it is known. ``str(error)`` is one line naming both.
    """

    def __init__(self, reason: str, file: str | None = None) -> None:
        self.reason = reason
        self.file = file
        where = f"{file}: " if file else ""
        super().__init__(f"{where}{reason}; check or replace the file")


def decode_image(
    source: str | Path | bytes,
    *,
    size: tuple[int, int] | None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Decode an image file or its bytes into an upright RGB uint8 array.

    Parameters
    ----------
    source : str, Path or bytes
        Path of an image file, or the file's bytes.
    size : (width, height) or None
        Output size. The image is resized without keeping its aspect ratio (as Keras'
        ``image_dataset_from_directory`` does): ``cv2.INTER_AREA`` on an axis that shrinks,
        ``cv2.INTER_LINEAR`` on an axis that grows. ``None`` keeps the original size.
    max_pixels : int
        Images announcing more pixels than this are refused as decompression bombs.

    Returns
    -------
    np.ndarray
        ``(height, width, 3)`` uint8, C-contiguous and writable.

    Raises
    ------
    BadImage
        The input is empty, truncated, corrupt, not an image, too large or unreadable; its
        ``reason`` says which. See the module docstring for the full decoding policy.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_bytes(bytes(source), size=size, max_pixels=max_pixels)[0]
    path = Path(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadImage(FILE_NOT_FOUND, str(path)) from None
    except OSError as error:
        raise BadImage(UNREADABLE, str(path)) from error
    try:
        return decode_bytes(data, size=size, max_pixels=max_pixels)[0]
    except BadImage as error:
        raise BadImage(error.reason, str(path)) from error.__cause__


def decode_bytes(
    data: bytes,
    *,
    size: tuple[int, int] | None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft: bool = True,
) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode image bytes; return the RGB uint8 array and the original upright (width, height).

    Same policy as ``decode_image``. ``draft=False`` turns off reduced-scale JPEG decoding; it
    exists for benchmarks and comparisons and changes the pixels, so pipelines leave it on.
    """
    _check_size(size)
    if not data:
        raise BadImage(EMPTY_FILE)
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise BadImage(CORRUPT if data.startswith(_SIGNATURES) else UNRECOGNISED) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise BadImage(BOMB) from error
    except MemoryError:
        raise
    except Exception as error:  # Pillow raises many types on malformed headers
        raise BadImage(_classify(error)) from error

    with image:
        width, height = image.size
        if width <= 0 or height <= 0:
            raise BadImage(CORRUPT)
        if width * height > max_pixels:
            raise BadImage(BOMB)
        orientation = _orientation(image)
        upright = (height, width) if orientation >= 5 else (width, height)
        try:
            if draft and size is not None and image.format == "JPEG":
                _draft(image, size, transposed=orientation >= 5)
            image.load()
            if orientation > 1:
                ImageOps.exif_transpose(image, in_place=True)
            rgb = to_rgb(image)
        except BadImage:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise BadImage(BOMB) from error
        except MemoryError:
            raise
        except Exception as error:  # truncated or corrupt pixel data
            raise BadImage(_classify(error)) from error
    if size is not None:
        rgb = resize(rgb, size)
    return rgb, upright


def to_rgb(image: Image.Image) -> np.ndarray:
    """Convert a loaded Pillow image of any mode into an ``(H, W, 3)`` uint8 array.

    See the module docstring for the rule applied to each mode (alpha over white, 16-bit scaled).
    """
    mode = image.mode
    if mode == "RGB":
        return np.array(image, dtype=np.uint8)
    if mode == "L":
        return cv2.cvtColor(np.asarray(image, dtype=np.uint8), cv2.COLOR_GRAY2RGB)
    if mode == "1":
        return cv2.cvtColor(np.asarray(image.convert("L"), dtype=np.uint8), cv2.COLOR_GRAY2RGB)
    if mode == "P" and "transparency" in image.info:
        return composite_over_white(np.asarray(image.convert("RGBA")))
    if mode in _ALPHA_MODES:
        return composite_over_white(np.asarray(image.convert("RGBA")))
    if mode in _SIXTEEN_BIT_MODES or mode == "I":
        gray = np.asarray(image)
        return cv2.cvtColor(scale_16bit(gray), cv2.COLOR_GRAY2RGB)
    if mode == "F":
        gray = np.asarray(image, dtype=np.float32)
        return cv2.cvtColor(scale_float(gray), cv2.COLOR_GRAY2RGB)
    try:
        converted = image.convert("RGB")
    except (ValueError, OSError) as error:
        raise BadImage(UNSUPPORTED_MODE) from error
    return np.array(converted, dtype=np.uint8)


def composite_over_white(rgba: np.ndarray) -> np.ndarray:
    """``(H, W, 4)`` uint8 RGBA -> ``(H, W, 3)`` uint8 RGB over a white background, rounded."""
    rgb = rgba[..., :3].astype(np.uint32)
    alpha = rgba[..., 3:4].astype(np.uint32)
    out = (rgb * alpha + 255 * (255 - alpha) + 127) // 255
    return out.astype(np.uint8)


def scale_16bit(gray: np.ndarray) -> np.ndarray:
    """Integer samples on a 0..65535 scale -> uint8: ``round(v * 255 / 65535)``, clipped first."""
    values = np.clip(gray.astype(np.int64), 0, 65535)
    return ((values * 255 + 32767) // 65535).astype(np.uint8)


def scale_float(gray: np.ndarray) -> np.ndarray:
    """Float samples -> uint8: [0, 1] data is scaled by 255, anything above 1 is read as 0..255."""
    values = np.nan_to_num(gray.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
    if values.size and values.max() <= 1.0:
        values = values * 255.0
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``(H, W, C)`` uint8 to ``size=(width, height)``, squashing (aspect ratio not kept).

    ``cv2.INTER_AREA`` along a shrinking axis, then ``cv2.INTER_LINEAR`` along a growing one.
    Returns a new array (or ``rgb`` itself when it already has the size).
    """
    _check_size(size)
    target_w, target_h = int(size[0]), int(size[1])
    height, width = rgb.shape[:2]
    if target_w < width or target_h < height:
        shrunk = (min(width, target_w), min(height, target_h))
        rgb = cv2.resize(rgb, shrunk, interpolation=cv2.INTER_AREA)
    if rgb.shape[1] != target_w or rgb.shape[0] != target_h:
        rgb = cv2.resize(rgb, (target_w, target_h), interpolation=cv2.INTER_LINEAR)
    return rgb


def _check_size(size: tuple[int, int] | None) -> None:
    if size is None:
        return
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size)
        or min(size) < 1
    ):
        raise ValueError(f"size must be (width, height) with two positive ints, got {size!r}")


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1..8); 1 when absent, invalid or unreadable."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a corrupt EXIF block must not cost the image
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _draft(image: Image.Image, size: tuple[int, int], *, transposed: bool) -> None:
    """Ask libjpeg for a reduced-scale decode that stays at or above ``size`` on both axes."""
    if image.mode not in _DRAFT_MODES:
        return
    width, height = (size[1], size[0]) if transposed else (size[0], size[1])
    if image.size[0] >= 2 * width and image.size[1] >= 2 * height:
        image.draft(image.mode, (width, height))


def _classify(error: BaseException) -> str:
    text = str(error).lower()
    if isinstance(error, EOFError) or "truncated" in text or "premature end" in text:
        return TRUNCATED
    return CORRUPT
