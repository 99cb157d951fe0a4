"""The CLI is a thin shell: every subcommand dispatches to its function with plain keyword
arguments, and a user's mistake is one line on stderr with exit code 2, never a traceback."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness import cli
from harness.config import build_config, parse_severities
from harness.errors import UserError

REPO = Path(__file__).resolve().parents[1]

COMMANDS = {
    "run": ("harness.commands.run", "run", ["run", "--model", "m.keras", "--data", "d"]),
    "compare": ("harness.commands.compare", "compare", ["compare", "--baseline", "a", "--candidate", "b"]),
    "report": ("harness.commands.report", "report", ["report", "RUN"]),
    "gate": ("harness.commands.gate", "gate", ["gate", "RUN", "--gates", "g.yaml"]),
    "ita": ("harness.commands.ita", "ita", ["ita", "D"]),
    "perturb": ("harness.commands.perturb", "perturb", ["perturb", "D", "--out", "O"]),
    "perturbations": ("harness.commands.perturbations", "perturbations", ["perturbations"]),
    "train": ("harness.commands.train", "train", ["train", "--data", "D", "--out", "m.keras"]),
    "demo": ("harness.commands.demo", "demo", ["demo"]),
    "explore": ("harness.commands.explore", "explore", ["explore"]),
}


def test_every_subcommand_is_registered():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_dispatches(name, monkeypatch):
    import importlib

    module_name, func, argv = COMMANDS[name]
    module = importlib.import_module(module_name)
    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(module, func, fake)
    assert cli.main(argv + ["--quiet"]) == 0
    assert seen, f"{name} did not reach its command function"
    assert seen["quiet"] is True
    # The Namespace never travels into the library: only plain values arrive.
    assert all(not hasattr(v, "_get_kwargs") for v in seen.values())


def test_no_command_is_bad_input(capsys):
    assert cli.main([]) == 2


def test_unknown_option_is_one_line_exit_2(capsys):
    code = cli.main(["run", "--model", "m", "--data", "d", "--no-such-option"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "--no-such-option" in err


def test_missing_model_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "d" / "a").mkdir(parents=True)
    code = cli.main(["run", "--model", str(tmp_path / "nope.keras"), "--data", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: --model") and err.count("\n") == 1


def test_missing_data_subprocess_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--model", "x.keras", "--data", str(tmp_path / "none")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "--data" in proc.stderr


def test_unexpected_error_exit_3_with_log(monkeypatch, capsys):
    import harness.commands.report as rep

    def boom(**kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(rep, "report", boom)
    assert cli.main(["report", "RUN"]) == 3
    err = capsys.readouterr().err
    assert "kaboom" in err and "dermatrace-crash-" in err and "Traceback" not in err


def test_config_rejects_unknown_key(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("perturbations: [blur]\nbogus: 3\n")
    with pytest.raises(UserError, match="unknown option 'bogus'"):
        build_config(model="m", data="d", out=tmp_path, config=str(cfg))


def test_config_rejects_bad_yaml(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("perturbations: [blur\n")
    with pytest.raises(UserError, match="not valid YAML"):
        build_config(model="m", data="d", out=tmp_path, config=str(cfg))


def test_command_line_wins_over_config(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("perturbations: [blur]\nseverities: [1, 2]\nn_boot: 50\n")
    c = build_config(model="m", data="d", out=tmp_path, config=str(cfg),
                     overrides={"severities": "3", "perturbations": None})
    assert c.perturbations == ("blur",)
    assert c.severities == (3,)
    assert c.n_boot == 50


def test_default_config_is_the_clinical_ladder(tmp_path):
    c = build_config(model="m", data="d", out=tmp_path)
    assert set(c.perturbations) == {"brightness_down", "brightness_up", "contrast_down",
                                    "contrast_up", "redness", "blur"}
    assert c.severities == (1, 2, 3, 4, 5)
    assert build_config(model="m", data="d", out=tmp_path,
                        overrides={"perturbations": "none"}).perturbations == ()


@pytest.mark.parametrize("bad", ["0", "6", "a", "1,x"])
def test_bad_severities(bad):
    with pytest.raises(UserError, match="--severities"):
        parse_severities(bad)


def _train_kwargs(monkeypatch, argv):
    import harness.commands.train as module

    seen = {}
    monkeypatch.setattr(module, "train", lambda **kw: seen.update(kw) or 0)
    assert cli.main(["train", "--data", "D", "--out", "m.keras", "--quiet"] + argv) == 0
    return seen


def test_train_defaults_leave_the_size_to_the_recipe(monkeypatch):
    monkeypatch.delenv("DERMATRACE_IMAGENET_WEIGHTS", raising=False)
    seen = _train_kwargs(monkeypatch, [])
    # None: linear-head keeps its own 384 px, the others 224 (harness.train.recipes.RECIPES)
    assert seen["input_size"] is None
    assert seen["folds"] == 5 and seen["positive_class"] is None
    assert seen["imagenet_fallbacks"] == []


def test_train_options_reach_the_command(monkeypatch):
    monkeypatch.setenv("DERMATRACE_IMAGENET_WEIGHTS", "/env/w.h5")
    seen = _train_kwargs(monkeypatch, ["--input-size", "96", "--folds", "3", "--positive-class",
                                       "eczema", "--imagenet-fallback", "/a/w.h5"])
    assert seen["input_size"] == 96 and seen["folds"] == 3
    assert seen["positive_class"] == "eczema"
    # the option first, the environment after it
    assert seen["imagenet_fallbacks"] == ["/a/w.h5", "/env/w.h5"]


@pytest.mark.parametrize("command", [["run", "--model", "m.keras", "--data", "d"],
                                     ["train", "--data", "D", "--out", "m.keras"]])
def test_negative_seed_is_one_line_exit_2(command, capsys):
    assert cli.main(command + ["--seed", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--seed" in err


def test_a_config_seed_and_region_names_are_checked_up_front(tmp_path):
    bad_seed = tmp_path / "seed.yaml"
    bad_seed.write_text("seed: -3\n")
    with pytest.raises(UserError, match=f"^{bad_seed}: seed: must be a whole number"):
        build_config(model="m", data="d", out="o", config=str(bad_seed))
    clash = tmp_path / "region.yaml"
    clash.write_text("attention_regions:\n  skin: [0, 0, 0.5, 0.5]\n")
    with pytest.raises(UserError, match="attention_regions.skin"):
        build_config(model="m", data="d", out="o", config=str(clash))


def test_an_output_that_is_a_file_stops_before_the_work(tmp_path, capsys):
    (tmp_path / "d" / "a").mkdir(parents=True)
    taken = tmp_path / "results"
    taken.write_text("not a folder")
    code = cli.main(["run", "--model", "tests/callable_models.py:redness", "--data",
                     str(tmp_path / "d"), "--out", str(taken)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: --out")


def test_run_is_a_thin_call_of_the_python_api(monkeypatch, tmp_path, capsys):
    import harness.api

    seen = {}

    class Finished:
        results = {"metrics": {}, "gates": {"passed": False, "counts": {"PASS": 0, "FAIL": 1}}}
        passed = False

    def fake_audit(**kwargs):
        seen.update(kwargs)
        Path(kwargs["out"]).mkdir(parents=True)
        (Path(kwargs["out"]) / "report.html").write_text("<html></html>")
        return Finished()

    monkeypatch.setattr(harness.api, "audit", fake_audit)
    (tmp_path / "d").mkdir()
    code = cli.main(["run", "--model", "tests/callable_models.py:redness", "--data",
                     str(tmp_path / "d"), "--out", str(tmp_path / "o"), "--severities", "1,3",
                     "--gradcam", "none", "--cache", "none", "--n-boot", "7"])
    captured = capsys.readouterr()
    assert code == 1  # a failed gate
    assert captured.out.strip() == str(tmp_path / "o" / "report.html")
    assert captured.err.splitlines() == ["gates: PASS 0, FAIL 1",
                                         f"report: {tmp_path / 'o' / 'report.html'} (0.0 MB)"]
    # the options arrive as the command line gave them, under the API's names
    assert seen["severities"] == "1,3" and seen["gradcam"] == "none" and seen["n_boot"] == 7
    assert seen["cache"] is None and seen["out"] == tmp_path / "o" and seen["quiet"] is False
    assert seen["perturbations"] is None and seen["seed"] is None and seen["trust_model"] is False


def test_compare_is_a_thin_call_of_the_python_api(monkeypatch, tmp_path, capsys):
    import harness.api

    seen = {}

    class Compared:
        lines = ["compare: one line", "gates PASSED"]
        passed = True

        def save(self, out):
            seen["saved_to"] = out
            return out

    def fake_compare(a, b, **kwargs):
        seen.update(a=a, b=b, **kwargs)
        return Compared()

    monkeypatch.setattr(harness.api, "compare", fake_compare)
    code = cli.main(["compare", "--baseline", "A", "--candidate", "B", "--seed", "4"])
    captured = capsys.readouterr()
    assert code == 0 and captured.err.splitlines() == Compared.lines
    assert captured.out.strip() == str(Path("B") / "compare" / "comparison.html")
    assert seen == {"a": Path("A"), "b": Path("B"), "gates": None, "strict": False, "seed": 4,
                    "saved_to": Path("B") / "compare"}


def test_the_cache_option_and_its_default(monkeypatch, tmp_path):
    from harness.config import cache_dir_option, default_cache_dir

    assert cache_dir_option("none") is None and cache_dir_option("None") is None
    assert cache_dir_option(str(tmp_path / "c")) == tmp_path / "c"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == cache_dir_option(None) == tmp_path / "xdg" / "dermatrace"
    assert (tmp_path / "xdg" / "dermatrace").is_dir()
