"""Training reads train/ only: test/ beside it is never opened nor listed."""
from __future__ import annotations

import os

from harness.train.training_data import training_folder

from train_helpers import synthetic_root, trained


def test_test_folder_never_read():
    root = synthetic_root()
    test_dir = os.path.abspath(root / "test")
    train_dir = os.path.abspath(root / "train")
    summary, seen = trained("baseline")
    # the recording works: the training images were opened
    train_pngs = {p for p in seen if p.startswith(train_dir + os.sep) and p.endswith(".png")}
    assert len(train_pngs) == 48
    touched = [p for p in seen if p == test_dir or p.startswith(test_dir + os.sep)]
    assert touched == []
    assert summary["training"]["data"] == str(root / "train")


def test_training_folder_choice(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    assert training_folder(tmp_path) == tmp_path / "train"
    flat = tmp_path / "other"
    flat.mkdir()
    assert training_folder(flat) == flat
