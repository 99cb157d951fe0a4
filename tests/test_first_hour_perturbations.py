"""The perturbation names a user can give are listed where a user looks: ``harness perturbations``
prints every family (what it varies, its parameters at severities 1-5 from the family's own table)
and every preset; an unknown name says which names it might mean and points there; the README
uses the real names."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import harness
from harness import cli
from harness.errors import UserError
from perturbations import FAMILIES, load_preset, presets
from perturbations.spec import FamilySpec

REPO = Path(__file__).resolve().parents[1]


def _blocks(text: str) -> dict[str, list[str]]:
    """The printed text as family/preset name -> the lines of its block."""
    blocks = {}
    for block in text.split("\n\n"):
        lines = block.splitlines()
        name = lines[0].split()[0] if lines else ""
        blocks[name] = lines
    return blocks


def test_perturbations_lists_every_family_with_its_table_and_every_preset(capsys):
    assert cli.main(["perturbations"]) == 0
    out = capsys.readouterr().out
    blocks = _blocks(out)
    for name, spec in FAMILIES.items():
        lines = blocks[name]
        assert " ".join(line.strip() for line in lines[1:]).startswith(spec.summary)
        rows = {line.split()[0]: line.split()[1:] for line in lines if line.startswith("    ")}
        assert rows["severity"] == ["1", "2", "3", "4", "5"]
        params = {k for s in spec.table.values() for k in s}
        assert set(rows) == params | {"severity"}
        for param in params:  # the family's own numbers, severity by severity
            shown = rows[param]
            for severity, text in zip(range(1, 6), shown):
                value = spec.table[severity][param]
                assert (float(text) == pytest.approx(value) if isinstance(value, (int, float))
                        else text == str(value)), (name, param, severity)
    for preset in presets():
        content = load_preset(preset)
        block = " ".join(blocks[preset])
        assert "designed for severities 1-5" in block
        assert all(family in block for family in content["families"])
    assert "--perturbations blur,brightness_down --severities 1,3" in out
    assert "p[blur@3]" in out


def test_perturbations_narrows_to_the_names_given(capsys):
    assert cli.main(["perturbations", "blur", "imagenet-c"]) == 0
    blocks = _blocks(capsys.readouterr().out)
    assert "blur" in blocks and "imagenet-c" in blocks
    assert "brightness_down" not in blocks and "clinical" not in blocks


def test_every_family_carries_a_one_line_summary_where_it_is_defined():
    for spec in FAMILIES.values():
        assert spec.summary.strip() and "\n" not in spec.summary, spec.name
    blur = FAMILIES["blur"]
    with pytest.raises(ValueError, match="summary"):
        FamilySpec(name="sharpen", kernel=blur.kernel, table=blur.table)


@pytest.fixture
def small_data(dermnet_test, tmp_path):
    for name in ("atopic_dermatitis", "eczema"):
        (tmp_path / "d" / name).mkdir(parents=True)
        for src in sorted((dermnet_test / name).glob("*.jpg"))[:1]:
            shutil.copy(src, tmp_path / "d" / name / src.name)
    return tmp_path / "d"


def test_an_unknown_family_says_what_it_might_mean(small_data, tmp_path, capsys):
    code = cli.main(["run", "--model", "tests/callable_models.py:redness", "--data",
                     str(small_data), "--out", str(tmp_path / "o"), "--cache", "none",
                     "--perturbations", "brightness,blur"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: --perturbations: unknown perturbation 'brightness'; did you "
                          "mean 'brightness_down', 'brightness_up'")
    assert "'harness perturbations'" in err
    assert not (tmp_path / "o").exists()
    with pytest.raises(UserError, match=r"perturbations: unknown perturbation 'contrast'; did you "
                                        r"mean 'contrast_down', 'contrast_up'"):
        harness.audit(model="tests/callable_models.py:redness", data=str(small_data),
                      perturbations=["contrast"], out=None, cache=None, quiet=True)
    assert cli.main(["perturbations", "redish"]) == 2
    assert "did you mean 'redness'?" in capsys.readouterr().err


def test_the_readme_names_the_families_a_run_can_take():
    readme = (REPO / "README.md").read_text()
    for family in load_preset("clinical")["families"]:
        assert f"`{family}`" in readme, family
    assert "harness perturbations" in readme
    assert not re.search(r"brightness, contrast, redness, blur", readme)
