"""run_perturb (the body of ``harness perturb``): layout, sizes, byte-identical reruns, errors."""
from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.errors import UserError
from perturbation_refs import dermnet_files
from perturbations import Variant, apply
from harness.commands.perturb import run_perturb


@pytest.fixture(scope="module")
def small_data(dermnet_test, tmp_path_factory) -> Path:
    """Three real DermNet NZ photos in class folders, copied to a temporary folder."""
    root = tmp_path_factory.mktemp("perturb_data")
    for f in dermnet_files(dermnet_test, 3):
        (root / f.parent.name).mkdir(exist_ok=True)
        shutil.copy(f, root / f.parent.name / f.name)
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _run(data: Path, out: Path, **kw) -> int:
    args = dict(families=["redness", "noise", "blur"], severities=[1, 3], preview=True, seed=0,
                size=64, quiet=True)
    args.update(kw)
    return run_perturb(data=str(data), out=str(out), **args)


def test_twice_writes_identical_bytes(small_data, tmp_path):
    assert _run(small_data, tmp_path / "a") == 0
    assert _run(small_data, tmp_path / "b") == 0
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    rel = sorted(p.relative_to(small_data).as_posix() for p in small_data.rglob("*.jpg"))
    expected = {f"{fam}@{s}/{r}" for fam in ("redness", "noise", "blur") for s in (1, 3) for r in rel}
    assert set(a) == expected | {"preview.png"}
    assert a == b


def test_only_stochastic_families_change_with_the_seed(small_data, tmp_path):
    _run(small_data, tmp_path / "s0", families=["noise", "blur"], severities=[2], preview=False)
    _run(small_data, tmp_path / "s1", families=["noise", "blur"], severities=[2], preview=False, seed=1)
    a, b = _files(tmp_path / "s0"), _files(tmp_path / "s1")
    assert all(a[k] == b[k] for k in a if k.startswith("blur@"))
    assert all(a[k] != b[k] for k in a if k.startswith("noise@"))


def test_original_size_is_kept_without_size(small_data, tmp_path):
    from harness.data.decode import decode_image

    _run(small_data, tmp_path / "o", families=["brightness_down"], severities=[2], preview=False, size=None)
    for src in sorted(small_data.rglob("*.jpg")):
        clean = decode_image(src, size=None)
        written = cv2.imread(str(tmp_path / "o" / "brightness_down@2" / src.relative_to(small_data)))[..., ::-1]
        assert written.shape == clean.shape
        direct = apply(Variant("brightness_down", 2), clean[None])[0]
        assert np.abs(written.astype(int) - direct).mean() < 1.5      # JPEG q95, 4:4:4


def test_preview_grid_has_a_row_per_family_and_image(small_data, tmp_path):
    _run(small_data, tmp_path / "p", families=["blur", "redness"], severities=[1, 2, 3], size=96)
    grid = cv2.imread(str(tmp_path / "p" / "preview.png"))
    from perturbations.preview import _GAP, _HEADER_H

    cell_h = 192  # square images at --size: cells of the default 192 px width are square
    assert grid.shape[0] == _HEADER_H + 2 * 3 * (cell_h + _GAP)
    assert grid.shape[1] > 4 * (192 + _GAP)                 # clean + three severities + labels


def test_summary_line_unless_quiet(small_data, tmp_path, capsys):
    _run(small_data, tmp_path / "q", families=["blur"], severities=[1], preview=False, quiet=False)
    out = capsys.readouterr().out
    assert out.strip() == f"wrote 3 images (1 variants x 3 files) to {tmp_path / 'q'}"


def test_user_errors(small_data, tmp_path):
    with pytest.raises(UserError, match="--perturbations: unknown perturbation 'sharpen'"):
        _run(small_data, tmp_path / "e", families=["sharpen"])
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(UserError, match="--out: .* exists and is not a folder"):
        _run(small_data, target)
    with pytest.raises(UserError, match="--size"):
        _run(small_data, tmp_path / "e", size=0)
    with pytest.raises(UserError):
        _run(tmp_path / "missing", tmp_path / "e")
