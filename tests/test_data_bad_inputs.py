"""Every kind of unusable input is skipped and named with its reason; the good images still load.

The folders are built at test time in tmp_path from real DermNet photographs, damaged on purpose.
"""
from __future__ import annotations

import io
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from harness.data.load import Skipped, load_dataset
from harness.errors import UserError
from harness.data.decode import BadImage, decode_image

SIZE = (64, 64)
ALLOWED = ["atopic_dermatitis", "eczema"]


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that announces ``width x height`` grey pixels but carries almost no data: the shape of
    a decompression bomb as a decoder first sees it."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def _png_of(jpeg: Path) -> bytes:
    buffer = io.BytesIO()
    Image.open(jpeg).save(buffer, "PNG")
    return buffer.getvalue()


def _corrupted(data: bytes) -> bytes:
    """The JPEG signature kept, the marker segments after it (tables, frame header) garbled."""
    damaged = bytearray(data)
    damaged[3:600] = np.random.default_rng(0).integers(0, 256, 597, dtype=np.uint8).tobytes()
    return bytes(damaged)


@pytest.fixture
def real(dermnet_test):
    eczema = sorted((dermnet_test / "eczema").glob("*.jpg"))
    atopic = sorted((dermnet_test / "atopic_dermatitis").glob("*.jpg"))
    return eczema, atopic


def test_every_bad_input_is_named_and_the_good_ones_load(tmp_path, real):
    eczema, atopic = real
    root = tmp_path / "data"
    outside = tmp_path / "elsewhere"
    (root / "eczema").mkdir(parents=True)
    (root / "atopic_dermatitis").mkdir()
    outside.mkdir()
    good = []
    for src in eczema[:3]:
        good.append(f"eczema/{src.name}")
        shutil.copyfile(src, root / good[-1])
    for src in atopic[:2]:
        good.append(f"atopic_dermatitis/{src.name}")
        shutil.copyfile(src, root / good[-1])
    # Modes that must be converted, made from a real photo: they load too.
    photo = Image.open(eczema[5])
    photo.convert("RGBA").save(root / "eczema" / "mode_rgba.png")
    photo.convert("CMYK").save(root / "eczema" / "mode_cmyk.jpg", quality=90)
    photo.convert("P").save(root / "atopic_dermatitis" / "mode_palette.gif")
    photo.convert("L").save(root / "atopic_dermatitis" / "mode_gray.png")
    Image.fromarray(np.asarray(photo.convert("L")).astype(np.uint16) * 257).save(
        root / "atopic_dermatitis" / "mode_gray16.png")
    (root / "eczema" / "nested").mkdir()
    shutil.copyfile(eczema[6], root / "eczema" / "nested" / "deeper.JPG")
    good += ["eczema/mode_rgba.png", "eczema/mode_cmyk.jpg", "atopic_dermatitis/mode_palette.gif",
             "atopic_dermatitis/mode_gray.png", "atopic_dermatitis/mode_gray16.png",
             "eczema/nested/deeper.JPG"]

    jpeg = eczema[3].read_bytes()
    bad = {
        "eczema/zero.jpg": (b"", "empty file"),
        "eczema/truncated.jpg": (jpeg[: len(jpeg) // 2], "truncated image"),
        "atopic_dermatitis/truncated.png": (_png_of(atopic[3])[:20000], "truncated image"),
        "eczema/corrupt.jpg": (_corrupted(jpeg), "corrupt image data"),
        "eczema/really_text.jpg": (b"patient notes, not a photograph\n" * 20, "unrecognised image content"),
        "eczema/bomb.png": (_png_header_only(20_000, 20_000), "decompression bomb"),
        "eczema/notes.txt": (b"taken on the 3rd", "not an image file"),
        "eczema/.DS_Store": (b"\x00\x00\x00\x01Bud1", "not an image file"),
        "atopic_dermatitis/Thumbs.db": (b"\xd0\xcf\x11\xe0", "not an image file"),
        "stray.jpg": (eczema[4].read_bytes(), "image outside a class folder"),
        "README.txt": (b"DermNet subset", "not an image file"),
        "psoriasis/p1.jpg": (eczema[7].read_bytes(), "unknown label 'psoriasis'"),
    }
    for rel, (data, _) in bad.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "empty_class").mkdir()
    (root / ".git").mkdir()  # hidden folders are not data
    (root / ".git" / "config").write_text("[core]")
    shutil.copyfile(eczema[8], outside / "secret.jpg")
    os.symlink(outside / "secret.jpg", root / "eczema" / "escape.jpg")
    os.symlink(tmp_path / "no_such.jpg", root / "eczema" / "dangling.jpg")
    os.symlink(outside, root / "linked_class")
    os.symlink(root / "eczema" / good[0].split("/")[1], root / "atopic_dermatitis" / "inside_link.jpg")
    good.append("atopic_dermatitis/inside_link.jpg")  # a symlink that stays inside is fine

    ds = load_dataset(root, size=SIZE, allowed_labels=ALLOWED)

    expected = {Skipped(rel, reason) for rel, (_, reason) in bad.items()} | {
        Skipped("eczema/escape.jpg", "symlink leaves the data root"),
        Skipped("eczema/dangling.jpg", "broken symlink"),
        Skipped("linked_class/", "symlink leaves the data root"),
        Skipped("empty_class/", "empty class folder"),
    }
    assert set(ds.skipped) == expected
    assert len(ds.skipped) == len(expected)
    assert ds.skipped == sorted(ds.skipped, key=lambda s: (s.file, s.reason))
    assert ds.files == sorted(good)
    assert ds.class_names == ALLOWED
    assert ds.labels.tolist() == [f.split("/")[0] for f in ds.files]
    assert ds.images.shape == (len(good), 64, 64, 3)
    assert ds.images.reshape(len(good), -1).std(axis=1).min() > 5  # real pictures, not blanks
    # The converted copies look like the photo they came from.
    reference = decode_image(eczema[5], size=SIZE).astype(np.int16)
    for rel in ("eczema/mode_rgba.png", "eczema/mode_cmyk.jpg", "atopic_dermatitis/mode_palette.gif"):
        assert np.abs(ds.images[ds.files.index(rel)].astype(np.int16) - reference).mean() < 8
    gray = ds.images[ds.files.index("atopic_dermatitis/mode_gray.png")]
    gray16 = ds.images[ds.files.index("atopic_dermatitis/mode_gray16.png")]
    np.testing.assert_array_equal(gray, gray16)  # v * 257 scales back to exactly v

    # Without a label list, the extra class is simply a class.
    ds_open = load_dataset(root, size=SIZE)
    assert ds_open.class_names == ["atopic_dermatitis", "eczema", "psoriasis"]


def test_class_folder_whose_images_are_all_bad_is_named(tmp_path, real):
    eczema, _ = real
    root = tmp_path / "d"
    (root / "eczema").mkdir(parents=True)
    shutil.copyfile(eczema[0], root / "eczema" / "ok.jpg")
    (root / "broken").mkdir()
    (root / "broken" / "a.jpg").write_bytes(b"")
    ds = load_dataset(root, size=SIZE)
    assert ds.skipped == [Skipped("broken/", "no usable image in class folder"),
                          Skipped("broken/a.jpg", "empty file")]
    assert ds.class_names == ["eczema"]


def test_manifest_problems_are_named(tmp_path, real):
    eczema, atopic = real
    root = tmp_path / "m"
    (root / "images" / "sub").mkdir(parents=True)
    for i, src in enumerate(eczema[:6]):
        shutil.copyfile(src, root / "images" / f"e{i}.jpg")
    shutil.copyfile(atopic[0], root / "images" / "a0.jpg")
    shutil.copyfile(atopic[1], tmp_path / "outside.jpg")
    os.symlink(tmp_path / "outside.jpg", root / "images" / "link.jpg")
    rows = [
        ("images/e0.jpg", "eczema", 2),
        ("images/a0.jpg", "atopic_dermatitis", 5),
        ("images/sub/../e1.jpg", "eczema", 3),     # normalises inside the root: fine
        ("images\\e2.jpg", "eczema", 4),           # written on Windows: fine
        ("../outside.jpg", "eczema", 1),
        (str(root / "images" / "e3.jpg"), "eczema", 1),
        ("images/missing.jpg", "eczema", 1),
        ("images/e0.jpg", "eczema", 2),            # the same row twice
        ("images/e4.jpg", "eczema", 6),
        ("images/e4.jpg", "atopic_dermatitis", 6),  # one file, two labels
        ("images/e5.jpg", "psoriasis", 3),
        ("images/link.jpg", "eczema", 2),
        ("", "eczema", 1),
        ("images", "eczema", 1),
    ]
    pd.DataFrame(rows, columns=["path", "label", "fitzpatrick"]).to_csv(root / "manifest.csv", index=False)

    ds = load_dataset(root / "manifest.csv", size=SIZE, allowed_labels=ALLOWED)

    assert ds.files == ["images/a0.jpg", "images/e0.jpg", "images/e1.jpg", "images/e2.jpg"]
    assert ds.labels.tolist() == ["atopic_dermatitis", "eczema", "eczema", "eczema"]
    assert ds.extra["fitzpatrick"].tolist() == [5, 2, 3, 4]
    assert sorted(ds.skipped, key=lambda s: (s.file, s.reason)) == ds.skipped
    assert set(ds.skipped) == {
        Skipped("../outside.jpg", "path leaves the data root"),
        Skipped(str(root / "images" / "e3.jpg"), "absolute path in manifest"),
        Skipped("images/missing.jpg", "file not found"),
        Skipped("images/e0.jpg", "duplicate manifest row"),
        Skipped("images/e4.jpg", "conflicting labels in manifest"),
        Skipped("images/e5.jpg", "unknown label 'psoriasis'"),
        Skipped("images/link.jpg", "symlink leaves the data root"),
        Skipped("manifest.csv:14", "empty path in manifest"),
        Skipped("images", "not a regular file"),
    }
    assert ds.skipped.count(Skipped("images/e4.jpg", "conflicting labels in manifest")) == 2


def test_missing_label_when_labels_are_required(tmp_path, real):
    eczema, _ = real
    root = tmp_path / "flat"
    root.mkdir()
    shutil.copyfile(eczema[0], root / "a.jpg")
    shutil.copyfile(eczema[1], root / "b.jpg")
    pd.DataFrame({"path": ["a.jpg", "b.jpg"], "label": ["eczema", ""]}).to_csv(root / "m.csv", index=False)
    ds = load_dataset(root / "m.csv", size=SIZE, allowed_labels=ALLOWED)
    assert ds.files == ["a.jpg"] and ds.skipped == [Skipped("b.jpg", "missing label")]


def test_pixel_limit_is_a_keyword(tmp_path, real):
    eczema, _ = real
    root = tmp_path / "flat"
    root.mkdir()
    shutil.copyfile(eczema[0], root / "a.jpg")  # 640 x 480 = 307200 pixels
    assert len(load_dataset(root, size=SIZE, max_pixels=640 * 480)) == 1
    with pytest.raises(UserError, match="1 decompression bomb"):
        load_dataset(root, size=SIZE, max_pixels=640 * 480 - 1)
    with pytest.raises(BadImage) as info:
        decode_image(eczema[0], size=SIZE, max_pixels=1000)
    assert info.value.reason == "decompression bomb"


def test_pillow_bomb_warning_is_a_skip(tmp_path, real):
    eczema, _ = real
    root = tmp_path / "flat"
    root.mkdir()
    shutil.copyfile(eczema[0], root / "a.jpg")
    # 95 megapixels: under our 100-megapixel limit, over Pillow's warning threshold (~89.5).
    (root / "big.png").write_bytes(_png_header_only(10_000, 9_500))
    assert 10_000 * 9_500 > Image.MAX_IMAGE_PIXELS
    ds = load_dataset(root, size=SIZE)
    assert ds.skipped == [Skipped("big.png", "decompression bomb")]
    # With a higher limit of our own and Pillow's warning not raised as an error, the same file
    # would reach the decoder, which finds it truncated: the bomb verdict came from the warning.
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(BadImage) as info:
        decode_image(root / "big.png", size=SIZE, max_pixels=200_000_000)
    assert info.value.reason == "truncated image"


def test_no_usable_image_is_one_line_naming_the_path(tmp_path):
    root = tmp_path / "nothing_good"
    (root / "eczema").mkdir(parents=True)
    (root / "eczema" / "a.jpg").write_bytes(b"")
    (root / "eczema" / "b.jpg").write_bytes(b"GIF89a")
    with pytest.raises(UserError) as info:
        load_dataset(root, size=SIZE)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{root}: no usable image")
    assert "1 empty file" in message and "1 corrupt image data" in message
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no usable image"):
        load_dataset(empty, size=SIZE)


def test_wrong_label_everywhere_is_a_user_error(tmp_path, real):
    eczema, _ = real
    root = tmp_path / "d"
    (root / "melanoma").mkdir(parents=True)
    shutil.copyfile(eczema[0], root / "melanoma" / "a.jpg")
    with pytest.raises(UserError, match="unknown label 'melanoma'"):
        load_dataset(root, size=SIZE, allowed_labels=ALLOWED)
