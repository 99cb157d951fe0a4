"""The one YAML reader: packaged or given files, clear errors, and limits a hostile file cannot pass.

A "billion laughs" file (nine anchors, each a list of nine aliases of the one before: 9**9 strings
once expanded) is refused with exit 2 before anything is expanded, in a gate file and in an audit
config, by the command line under a 1 GB address-space limit.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness.config import build_config  # noqa: E402
from harness.errors import UserError  # noqa: E402
from harness.gates.file import load_gates  # noqa: E402
from harness.yaml_file import MAX_BYTES, MAX_DEPTH, MAX_VALUES, parse_yaml, read_yaml  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MEMORY_LIMIT = 1 << 30  # the commands need ~150 MB; the expanded bomb would need tens of GB
# what a user sees when a file is refused for its aliases
REFUSED = "refused: the document expands to more than 100,000 values"


def laughs(indent: str) -> str:
    """YAML list items: nine anchors, each a list of nine aliases of the one before."""
    rows = [f"{indent}- &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    rows += [f"{indent}- &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 9) + "]"
             for i in range(1, 9)]
    return "\n".join(rows) + "\n"


def bomb_gate_file(tmp_path: Path, field: str = "name") -> Path:
    path = tmp_path / "bomb.yaml"
    other = "name: big" if field == "min" else "min: 0.5"
    path.write_text(f"gates:\n  - metric: roc_auc\n    scope: overall\n    {other}\n    {field}:\n"
                    + laughs("      "), encoding="utf-8")
    return path


def bomb_config(tmp_path: Path) -> Path:
    path = tmp_path / "bomb.yaml"
    path.write_text("perturbations:\n" + laughs("  "), encoding="utf-8")
    return path


def harness_limited(*args) -> subprocess.CompletedProcess:
    """``python -m harness ARGS`` with its address space limited to ``MEMORY_LIMIT``."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, preexec_fn=limit, timeout=300)


# -- the limits ------------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["name", "min"])
def test_a_bomb_in_a_gate_file_is_refused_before_it_expands(tmp_path, field):
    path = bomb_gate_file(tmp_path, field)
    with pytest.raises(UserError) as err:
        load_gates(path)
    assert str(err.value).startswith(f"{path}: {REFUSED}")
    assert "\n" not in str(err.value)


def test_counting_is_exact_at_the_limit(monkeypatch):
    # root, key a, x = [1, [2, 3]] (5 values), key b, [*x, *x] (1 + 5 + 5): 19 values
    text = "a: &x [1, [2, 3]]\nb: [*x, *x]\n"
    monkeypatch.setattr("harness.yaml_file.MAX_VALUES", 19)
    assert parse_yaml(text, source="t.yaml") == {"a": [1, [2, 3]], "b": [[1, [2, 3]]] * 2}
    monkeypatch.setattr("harness.yaml_file.MAX_VALUES", 18)
    with pytest.raises(UserError, match="more than 18 values"):
        parse_yaml(text, source="t.yaml")


def test_deep_nesting_recursive_anchors_and_big_files_are_refused(tmp_path):
    assert parse_yaml("[" * MAX_DEPTH + "]" * MAX_DEPTH, source="ok.yaml") is not None
    with pytest.raises(UserError, match=rf"^deep.yaml: refused: values nested more than {MAX_DEPTH}"):
        parse_yaml("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), source="deep.yaml")
    # depth counts through aliases: 40 levels used twice are 80
    forty = "[" * 40 + "]" * 40
    with pytest.raises(UserError, match="nested more than"):
        parse_yaml(f"a: &x {forty}\nb: " + "[" * 30 + "*x" + "]" * 30, source="d.yaml")
    with pytest.raises(UserError, match=r"alias \*a is inside the value it names"):
        parse_yaml("a: &a [1, *a]", source="r.yaml")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * MAX_BYTES + b"\n")
    with pytest.raises(UserError, match=r"big.yaml: gate file of [\d,]+ bytes refused"):
        load_gates(big)
    many = tmp_path / "many.yaml"
    many.write_text("gates: [" + ", ".join(["1"] * (MAX_VALUES + 1)) + "]\n")
    with pytest.raises(UserError, match="more than 100,000 values"):
        load_gates(many)


def test_ordinary_anchors_aliases_and_merge_keys_still_work(tmp_path):
    gates = tmp_path / "gates.yaml"
    gates.write_text("gates:\n"
                     "  - &auc {name: AUC overall, metric: roc_auc, scope: overall, min: 0.5}\n"
                     "  - <<: *auc\n"
                     "    name: AUC of the worst group\n"
                     "    scope: worst_group\n", encoding="utf-8")
    loaded = load_gates(gates)
    assert [(g.name, g.scope, g.min) for g in loaded] == [("AUC overall", "overall", 0.5),
                                                           ("AUC of the worst group", "worst_group", 0.5)]
    config = tmp_path / "audit.yaml"
    config.write_text("severities: &s [1, 3]\nattention_regions: {corner: &box [0, 0, 0.25, 0.25], "
                      "other: [0.5, 0.5, 1, 1]}\nperturbations: [blur, redness]\n", encoding="utf-8")
    cfg = build_config(model="m", data="d", out=tmp_path / "o", config=str(config))
    assert cfg.severities == (1, 3) and cfg.perturbations == ("blur", "redness")


def test_messages_name_the_file(tmp_path):
    with pytest.raises(UserError, match=r"^--config .*nope.yaml: audit config not found; give the path"):
        build_config(model="m", data="d", out=tmp_path, config=str(tmp_path / "nope.yaml"))
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"gates: \xff\xfe\n")
    with pytest.raises(UserError, match="binary.yaml: not a UTF-8 text file; give a YAML gate file"):
        load_gates(binary)
    broken = tmp_path / "broken.yaml"
    broken.write_text("gates:\n  - name: [unclosed\n")
    with pytest.raises(UserError, match=r"broken.yaml: not valid YAML at line 3, column 1 \("):
        load_gates(broken)
    assert read_yaml(None, packaged="default.yaml").source == "configs/default.yaml"
    with pytest.raises(ValueError, match="packaged="):
        read_yaml(None)


def test_a_bad_value_in_a_config_file_names_the_file_not_the_option(tmp_path):
    config = tmp_path / "audit.yaml"
    config.write_text("perturbations: [blur, sharpen]\n", encoding="utf-8")
    with pytest.raises(UserError, match=rf"^{config}: perturbations: unknown perturbation 'sharpen'"):
        build_config(model="m", data="d", out=tmp_path, config=str(config))
    # the same name on the command line names the option
    with pytest.raises(UserError, match=r"^--perturbations: unknown perturbation 'sharpen'"):
        build_config(model="m", data="d", out=tmp_path, overrides={"perturbations": "sharpen"})
    config.write_text("severities: [1, 7]\n", encoding="utf-8")
    with pytest.raises(UserError, match=rf"^{config}: severities: severities are whole numbers 1-5"):
        build_config(model="m", data="d", out=tmp_path, config=str(config))
    # ... and a command-line value wins over the file's, so the file's is never judged
    cfg = build_config(model="m", data="d", out=tmp_path, config=str(config),
                       overrides={"severities": "2"})
    assert cfg.severities == (2,)


# -- the command line, under a memory limit ------------------------------------------------------

@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from sample_run import make_sample_run

    out = tmp_path_factory.mktemp("yaml_bomb_run")
    make_sample_run(out, n=120, n_boot=50, thumbnails=False, gradcam=False)
    return out


def test_harness_gate_refuses_a_bomb_with_exit_2_in_bounded_memory(run_dir, tmp_path):
    # the same gate, written out, passes under the same limit: the limit leaves room to work
    plain = tmp_path / "plain.yaml"
    plain.write_text("gates:\n  - {name: any auc, metric: roc_auc, scope: overall, min: 0.0}\n")
    ok = harness_limited("gate", run_dir, "--gates", plain, "--quiet")
    assert ok.returncode == 0, ok.stderr
    path = bomb_gate_file(tmp_path)
    proc = harness_limited("gate", run_dir, "--gates", path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [f"error: {path}: {REFUSED} (anchors &name and "
                                                "aliases *name repeat what they name); write the "
                                                "values out or use fewer aliases"]


def test_harness_run_refuses_a_bomb_config_with_exit_2_naming_the_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = bomb_config(tmp_path)
    proc = harness_limited("run", "--model", "tests.callable_models:none", "--data", data,
                           "--out", tmp_path / "run", "--config", path, "--cache", "none", "--quiet")
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: {REFUSED}")
    assert "--perturbations" not in lines[0]
