"""load_dataset on real images: layouts, manifests, labels, hashes, fingerprint, determinism."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.data.load import dataset_fingerprint, load_dataset
from harness.errors import UserError
from harness.data.decode import decode_image

SIZE = (64, 64)


def _real(dermnet_test: Path, label: str, n: int, start: int = 0) -> list[Path]:
    return sorted((dermnet_test / label).glob("*.jpg"))[start:start + n]


def _copy(files: list[Path], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copyfile(f, folder / f.name)) for f in files]


@pytest.fixture
def small_classes(tmp_path, dermnet_test) -> Path:
    root = tmp_path / "classes"
    _copy(_real(dermnet_test, "eczema", 4), root / "eczema")
    _copy(_real(dermnet_test, "atopic_dermatitis", 3), root / "atopic_dermatitis")
    return root


def test_dermnet_test_split_loads_completely(dermnet_test, shared_data):
    ds = load_dataset(dermnet_test, size=(224, 224))
    truth = pd.read_csv(shared_data / "dermnetnz_eczema_ad" / "labels.csv")
    truth = truth[truth["split"] == "test"].copy()
    truth["rel"] = truth["file"].str.removeprefix("test/")
    truth = truth.set_index("rel").loc[ds.files]  # raises if a file is missing or extra

    assert len(ds) == len(truth) == 108
    assert ds.layout == "class_folders" and ds.skipped == []
    assert ds.root == dermnet_test.resolve()
    assert ds.files == sorted(ds.files)
    assert ds.class_names == ["atopic_dermatitis", "eczema"]
    assert ds.class_counts() == {"atopic_dermatitis": 33, "eczema": 75}
    assert ds.labels.tolist() == truth["label"].tolist()
    assert ds.image_hashes == truth["sha256"].tolist()  # sha256 of the bytes, as published
    assert ds.original_sizes == list(zip(truth["width"], truth["height"]))
    assert ds.images.shape == (108, 224, 224, 3) and ds.images.dtype == np.uint8
    assert ds.extra.shape == (108, 0)
    # Each row is that file decoded on its own.
    for i in (0, 57, 107):
        np.testing.assert_array_equal(ds.images[i], decode_image(ds.root / ds.files[i], size=(224, 224)))
    # A photo is not blank: the decoded pixels carry the picture.
    assert ds.images.reshape(108, -1).std(axis=1).min() > 10


def test_thread_count_does_not_change_anything(small_classes):
    one = load_dataset(small_classes, size=SIZE, workers=1)
    two = load_dataset(small_classes, size=SIZE, workers=2)
    four = load_dataset(small_classes, size=SIZE, workers=4)
    for other in (two, four):
        np.testing.assert_array_equal(one.images, other.images)
        assert one.files == other.files and one.fingerprint == other.fingerprint
        assert one.labels.tolist() == other.labels.tolist()


def test_size_is_width_then_height(small_classes):
    ds = load_dataset(small_classes, size=(96, 32))
    assert ds.images.shape == (7, 32, 96, 3)


def test_flat_folder_has_empty_labels(tmp_path, dermnet_test):
    root = tmp_path / "flat"
    copied = _copy(_real(dermnet_test, "eczema", 3), root)
    ds = load_dataset(root, size=SIZE)
    assert ds.layout == "flat"
    assert ds.files == sorted(p.name for p in copied)
    assert ds.labels.tolist() == ["", "", ""] and ds.class_names == []
    assert ds.class_counts() == {"": 3}


def test_manifest_with_extra_columns_and_file_synonym(tmp_path, fitzpatrick17k):
    labels = pd.read_csv(fitzpatrick17k / "labels.csv")
    chosen = labels.sort_values("file").iloc[[0, 10, 20, 30, 40]]
    root = tmp_path / "fitz"
    for rel in chosen["file"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fitzpatrick17k / rel, root / rel)
    manifest = chosen[["file", "condition", "fitzpatrick", "fitzpatrick_centaur"]].iloc[::-1]
    manifest.to_csv(root / "my_list.csv", index=False)

    ds = load_dataset(root / "my_list.csv", size=SIZE, label_column="condition")
    assert ds.layout == "manifest" and ds.skipped == []
    assert ds.files == sorted(chosen["file"])  # sorted, whatever the manifest's row order
    by_file = chosen.set_index("file").loc[ds.files]
    assert ds.labels.tolist() == by_file["condition"].tolist()
    assert list(ds.extra.columns) == ["fitzpatrick", "fitzpatrick_centaur"]
    assert ds.extra["fitzpatrick"].tolist() == by_file["fitzpatrick"].tolist()  # row-aligned
    assert ds.extra["fitzpatrick"].dtype.kind == "i"  # numbers stay numbers
    assert ds.original_sizes == list(zip(by_file["width"], by_file["height"]))

    unlabelled = load_dataset(root / "my_list.csv", size=SIZE)  # no 'label' column: labels ""
    assert set(unlabelled.labels.tolist()) == {""}
    assert "condition" in unlabelled.extra.columns


def test_folder_holding_one_manifest_is_read_through_it(tmp_path, fitzpatrick17k):
    labels = pd.read_csv(fitzpatrick17k / "labels.csv").sort_values("file").iloc[:4]
    root = tmp_path / "fitz"
    (root / "images").mkdir(parents=True)
    for rel in labels["file"]:
        shutil.copyfile(fitzpatrick17k / rel, root / rel)
    labels.to_csv(root / "labels.csv", index=False)
    ds = load_dataset(root, size=SIZE)
    assert ds.layout == "manifest"  # not one class called "images"
    assert ds.files == labels["file"].tolist()
    assert ds.extra["fitzpatrick"].tolist() == labels["fitzpatrick"].tolist()
    assert ds.image_hashes == labels["sha256"].tolist()


def test_manifest_paths_relative_to_data_root(tmp_path, dermnet_test):
    data = tmp_path / "images"
    copied = _copy(_real(dermnet_test, "eczema", 2), data / "eczema")
    lists = tmp_path / "lists"
    lists.mkdir()
    pd.DataFrame({"path": [f"eczema/{p.name}" for p in copied], "label": "eczema",
                  "site": ["hand", "leg"]}).to_csv(lists / "m.csv", index=False)
    ds = load_dataset(lists / "m.csv", size=SIZE, data_root=data)
    assert ds.root == data.resolve() and len(ds) == 2 and ds.skipped == []
    assert ds.extra["site"].tolist() == ["hand", "leg"]
    with pytest.raises(UserError, match="no usable image"):
        load_dataset(lists / "m.csv", size=SIZE)  # relative to lists/: nothing there


def test_both_manifest_names_are_ambiguous(small_classes):
    for name in ("manifest.csv", "labels.csv"):
        (small_classes / name).write_text("path,label\neczema/x.jpg,eczema\n")
    with pytest.raises(UserError, match="both manifest.csv and labels.csv"):
        load_dataset(small_classes, size=SIZE)


def test_manifest_mixing_splits_found_in_a_folder_is_refused(tmp_path, dermnet_test):
    root = tmp_path / "parent"
    a = _copy(_real(dermnet_test, "eczema", 1), root / "train" / "eczema")[0]
    b = _copy(_real(dermnet_test, "eczema", 1, start=1), root / "test" / "eczema")[0]
    pd.DataFrame({"file": [f"train/eczema/{a.name}", f"test/eczema/{b.name}"],
                  "split": ["train", "test"], "label": "eczema"}).to_csv(root / "labels.csv", index=False)
    with pytest.raises(UserError, match="several splits") as info:
        load_dataset(root, size=SIZE)
    assert "\n" not in str(info.value)
    # Passing the manifest itself is an explicit choice and is honoured.
    assert len(load_dataset(root / "labels.csv", size=SIZE)) == 2


def test_csv_without_path_column_does_not_hijack_a_class_folder(small_classes):
    (small_classes / "labels.csv").write_text("index,name\n0,atopic_dermatitis\n1,eczema\n")
    ds = load_dataset(small_classes, size=SIZE)
    assert ds.layout == "class_folders" and len(ds) == 7
    assert [s.file for s in ds.skipped] == ["labels.csv"]
    assert ds.skipped[0].reason.startswith("not an image file")


def test_fingerprint_ignores_times_and_listing_order(tmp_path, dermnet_test):
    files = _real(dermnet_test, "eczema", 3) + _real(dermnet_test, "atopic_dermatitis", 2)
    a, b = tmp_path / "a", tmp_path / "b"
    for f in files:
        _copy([f], a / f.parent.name)
    for i, f in enumerate(reversed(files)):  # created in the opposite order, other times
        copied = _copy([f], b / f.parent.name)[0]
        os.utime(copied, (1_000_000 + i * 3600, 1_000_000 + i * 3600))
    fa, fb = load_dataset(a, size=SIZE), load_dataset(b, size=(32, 32))
    assert fa.fingerprint == fb.fingerprint  # content and labels only, not size or times
    assert len(fa.fingerprint) == 64 and fa.image_hashes == fb.image_hashes


def test_fingerprint_changes_with_one_byte_or_one_label(tmp_path, dermnet_test):
    root = tmp_path / "m"
    copied = _copy(_real(dermnet_test, "eczema", 3), root)
    names = [p.name for p in copied]
    pd.DataFrame({"path": names, "label": ["eczema"] * 3}).to_csv(root / "m.csv", index=False)
    base = load_dataset(root / "m.csv", size=SIZE).fingerprint

    pd.DataFrame({"path": names, "label": ["eczema", "eczema", "atopic_dermatitis"]}).to_csv(
        root / "m.csv", index=False)
    relabelled = load_dataset(root / "m.csv", size=SIZE).fingerprint
    assert relabelled != base

    pd.DataFrame({"path": names, "label": ["eczema"] * 3}).to_csv(root / "m.csv", index=False)
    assert load_dataset(root / "m.csv", size=SIZE).fingerprint == base
    with open(copied[1], "ab") as handle:  # a byte after the JPEG end marker: same pixels
        handle.write(b"\x00")
    touched = load_dataset(root / "m.csv", size=SIZE)
    assert touched.fingerprint != base and len(touched) == 3


def test_dataset_fingerprint_is_a_function_of_the_triples():
    files, hashes, labels = ["b.jpg", "a.jpg"], ["22" * 32, "11" * 32], ["x", "y"]
    base = dataset_fingerprint(files, hashes, labels)
    assert dataset_fingerprint(files[::-1], hashes[::-1], labels[::-1]) == base
    assert dataset_fingerprint(["b.jpg", "c.jpg"], hashes, labels) != base
    assert dataset_fingerprint(files, ["22" * 32, "33" * 32], labels) != base
    assert dataset_fingerprint(files, hashes, ["x", "x"]) != base
    with pytest.raises(ValueError):
        dataset_fingerprint(files, hashes, ["x"])


def test_progress_bar_only_when_asked(small_classes, capsys):
    load_dataset(small_classes, size=SIZE)
    assert capsys.readouterr().err == ""
    load_dataset(small_classes, size=SIZE, progress=True)
    err = capsys.readouterr().err
    assert "Decoding images" in err and "7/7" in err


def test_summary_is_json_ready(small_classes):
    (small_classes / "eczema" / "notes.txt").write_text("x")
    summary = load_dataset(small_classes, size=SIZE).summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["n_images"] == 7 and summary["image_sizes"] == {"640x480": 7}
    assert summary["class_counts"] == {"atopic_dermatitis": 3, "eczema": 4}
    assert summary["skipped"] == [{"file": "eczema/notes.txt", "reason": "not an image file"}]


def test_user_errors_are_one_line(tmp_path, small_classes):
    cases = [
        (lambda: load_dataset(tmp_path / "nowhere", size=SIZE), "no such file or folder"),
        (lambda: load_dataset(_write(tmp_path / "x.txt", "hi"), size=SIZE), "not a folder or a .csv"),
        (lambda: load_dataset(small_classes, size=SIZE, data_root=tmp_path), "only to a CSV manifest"),
        (lambda: load_dataset(_write(tmp_path / "m.csv", "name,label\na.jpg,x\n"), size=SIZE),
         "no 'path' or 'file' column"),
        (lambda: load_dataset(_write(tmp_path / "e.csv", ""), size=SIZE), "empty CSV"),
        (lambda: load_dataset(_write(tmp_path / "l.csv", "path,label\na.jpg,x\n"), size=SIZE,
                              label_column="diagnosis"), "no label column 'diagnosis'"),
    ]
    for call, message in cases:
        with pytest.raises(UserError, match=message) as info:
            call()
        assert "\n" not in str(info.value)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
