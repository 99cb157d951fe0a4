"""An audit needs labels: when none of the images has one, the message says where labels come from
in the layout given (class subfolders, a manifest's ``label`` column) and what is missing,
instead of "N missing label" and a suggestion of the layout the user already gave.

Four real DermNet NZ photographs, copied into tmp_path.
"""
from __future__ import annotations

import shutil

import pytest

from harness import cli
from harness.data.load import load_dataset
from harness.errors import UserError

CLASSES = ["atopic_dermatitis", "eczema"]
SIZE = (32, 32)


@pytest.fixture
def flat(dermnet_test, tmp_path):
    folder = tmp_path / "flat"
    folder.mkdir()
    for name in CLASSES:
        for src in sorted((dermnet_test / name).glob("*.jpg"))[:2]:
            shutil.copy(src, folder / src.name)
    return folder


def _manifest(folder, header: str, rows) -> str:
    path = folder / "images.csv"
    path.write_text(header + "\n" + "".join(row + "\n" for row in rows))
    return path


def test_a_flat_folder_says_labels_come_from_subfolders_or_a_label_column(flat):
    with pytest.raises(UserError) as info:
        load_dataset(flat, size=SIZE, allowed_labels=CLASSES)
    message = str(info.value)
    assert message == (f"{flat}: a folder of images without class subfolders gives no labels "
                       f"(4 images without one); labels come from class subfolders "
                       f"({flat}/<class>/*.jpg) or from a 'label' column of a CSV manifest "
                       f"(path,label)")
    # without a model that needs labels, the same folder loads (harness ita, harness perturb)
    assert load_dataset(flat, size=SIZE).class_counts() == {"": 4}


def test_a_manifest_without_a_label_column_names_the_column(flat):
    files = sorted(p.name for p in flat.glob("*.jpg"))
    manifest = _manifest(flat, "path,fitzpatrick", [f"{f},3" for f in files])
    with pytest.raises(UserError, match=rf"^{manifest}: no 'label' column \(columns: path, "
                                        r"fitzpatrick\), so none of its 4 images has a label; add "
                                        r"a 'label' column with each image's class"):
        load_dataset(manifest, size=SIZE, allowed_labels=CLASSES)


def test_a_manifest_with_empty_labels_says_so(flat):
    files = sorted(p.name for p in flat.glob("*.jpg"))
    manifest = _manifest(flat, "path,label", [f"{f}," for f in files])
    with pytest.raises(UserError, match=rf"^{manifest}: column 'label' is empty for all 4 images"):
        load_dataset(manifest, size=SIZE, allowed_labels=CLASSES)
    # one labelled row: the dataset loads, the others are listed as skipped
    manifest = _manifest(flat, "path,label", [f"{files[0]},eczema"] + [f"{f}," for f in files[1:]])
    ds = load_dataset(manifest, size=SIZE, allowed_labels=CLASSES)
    assert ds.files == [files[0]] and [s.reason for s in ds.skipped] == ["missing label"] * 3


def test_harness_run_on_a_flat_folder_says_where_labels_come_from(flat, tmp_path, capsys):
    code = cli.main(["run", "--model", "tests/callable_models.py:redness", "--data", str(flat),
                     "--out", str(tmp_path / "o"), "--cache", "none", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "labels come from class subfolders" in err and "missing label" not in err
    assert "a CSV manifest with a 'path' column" not in err
