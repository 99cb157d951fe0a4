"""``harness ita D --out CSV`` body: one row per image, the documented columns."""
from __future__ import annotations

import pandas as pd
import pytest

from harness.errors import UserError
from harness.demo.synthetic import make_synthetic_dataset
from harness.commands.ita import run_ita


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("ita") / "syn"
    make_synthetic_dataset(out, n=12, size=64, seed=2)
    return out


def test_writes_one_row_per_image_with_the_documented_columns(synthetic_dir, tmp_path):
    csv = tmp_path / "ita.csv"
    assert run_ita(data=str(synthetic_dir), out=str(csv), scheme="chardon6", size=96, quiet=True) == 0
    table = pd.read_csv(csv)
    assert list(table.columns[:6]) == ["file", "ita", "ita_iqr", "skin_fraction", "group",
                                       "fitzpatrick_est"]
    assert len(table) == 12
    manifest = pd.read_csv(synthetic_dir / "manifest.csv")
    merged = table.merge(manifest, left_on="file", right_on="path")
    assert len(merged) == 12
    assert (merged["ita"] - merged["ita_true"]).abs().median() < 3.0
    assert table["fitzpatrick_est"].dropna().between(1, 6).all()


def test_stdout_and_bad_options(synthetic_dir, capsys):
    assert run_ita(data=str(synthetic_dir), out=None, scheme="coarse3", size=64, quiet=True) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("file,ita,ita_iqr,skin_fraction,group,fitzpatrick_est")
    assert len(lines) == 13
    with pytest.raises(UserError, match="scheme"):
        run_ita(data=str(synthetic_dir), out=None, scheme="nope", size=64, quiet=True)
    with pytest.raises(UserError):
        run_ita(data=str(synthetic_dir / "missing"), out=None, scheme="coarse3", size=64, quiet=True)


def test_summary_on_stderr_unless_quiet(synthetic_dir, tmp_path, capsys):
    run_ita(data=str(synthetic_dir), out=str(tmp_path / "a.csv"), scheme="chardon6", size=64, quiet=False)
    err = capsys.readouterr().err
    assert "12 images" in err and "chardon6" in err
