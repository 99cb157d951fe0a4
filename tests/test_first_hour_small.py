"""The smaller surprises of the first hour: ``--gradcam N`` gives exactly N heatmaps; ``compare``
of a run with itself warns; ``train`` lists every recipe; every option has help; ``report`` and
``gate`` take no options that do nothing; exit code 130 and the severities the shipped CI gates
need are in the README.

Real DermNet NZ photographs copied into tmp_path; the tiny Keras net of tests/model_factories.py
for Grad-CAM, the plain-Python ``tests/callable_models.py:redness`` elsewhere (no TensorFlow).
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import harness
from harness import cli
from harness.pipeline.gradcam import GRADCAM_AUTO_BUDGET, gradcam_selection
from harness.train.recipes import RECIPES
from model_factories import TINY, tiny_convnet, write_sidecar

REPO = Path(__file__).resolve().parents[1]
CLASSES = ("atopic_dermatitis", "eczema")
#: Skin-tone groups of 108 images, as uneven as a real test set's (an "unknown" group included).
GROUPS = np.array(["intermediate"] * 41 + ["light"] * 30 + ["tan"] * 19 + ["brown"] * 9
                  + ["unknown"] * 6 + ["very_light"] * 2 + ["dark"] * 1)


def _copy(dermnet_test: Path, folder: Path, per_class: int) -> Path:
    for name in CLASSES:
        (folder / name).mkdir(parents=True)
        for src in sorted((dermnet_test / name).glob("*.jpg"))[:per_class]:
            shutil.copy(src, folder / name / src.name)
    return folder


# -------------------------------------------------------------------------- --gradcam N
def test_gradcam_n_selects_exactly_n_images_stratified_and_deterministic():
    names, sizes = np.unique(GROUPS, return_counts=True)
    for n in range(len(names), len(GROUPS)):
        sel = gradcam_selection(str(n), GROUPS, 30, seed=0)
        assert sel.size == n and len(set(sel.tolist())) == n
        assert np.array_equal(sel, gradcam_selection(str(n), GROUPS, 30, seed=0))
        counts = dict(zip(*np.unique(GROUPS[sel], return_counts=True)))
        assert all(counts.get(name, 0) >= 1 for name in names), n  # every group
        by_size = [counts[name] for _, name in sorted(zip(sizes, names))]
        assert by_size == sorted(by_size), n  # a larger group never gets fewer images
        share = {name: n * size / len(GROUPS) for name, size in zip(names, sizes)}
        if min(share.values()) >= 1:  # no group needs its minimum of one: within one of its share
            assert all(abs(counts[name] - share[name]) < 1 for name in names), n


def test_gradcam_n_shares_by_group():
    for n, expected in [(8, {"intermediate": 2}), (20, {"intermediate": 7, "light": 5, "tan": 3,
                                                          "brown": 2}),
                        (54, {"intermediate": 21, "light": 15, "tan": 9, "brown": 4,
                              "unknown": 3})]:
        sel = gradcam_selection(str(n), GROUPS, 30, seed=0)
        counts = dict(zip(*np.unique(GROUPS[sel], return_counts=True)))
        assert counts == {g: expected.get(g, 1) for g in set(GROUPS.tolist())}, n


def test_gradcam_n_below_the_number_of_groups_takes_the_largest_groups():
    sel = gradcam_selection("3", GROUPS, 30, seed=0)
    assert sel.size == 3
    assert sorted(set(GROUPS[sel].tolist())) == ["intermediate", "light", "tan"]


def test_gradcam_auto_and_all_select_as_before():
    many = np.repeat(GROUPS, 20)  # 2160 images: auto's budget is smaller than the dataset
    limit = GRADCAM_AUTO_BUDGET // 31
    rng = np.random.default_rng(5)
    expected = []  # the stratified rule auto has always used: each share rounded, at least one
    for g in sorted(set(many.tolist())):
        idx = np.flatnonzero(many == g)
        k = max(1, round(limit * len(idx) / len(many)))
        expected.extend(rng.choice(idx, size=min(k, len(idx)), replace=False).tolist())
    assert np.array_equal(gradcam_selection("auto", many, 30, seed=5), sorted(expected))
    assert np.array_equal(gradcam_selection("auto", GROUPS, 30, seed=5), np.arange(len(GROUPS)))
    assert np.array_equal(gradcam_selection("all", many, 30, seed=5), np.arange(len(many)))


@pytest.fixture(scope="module")
def keras_model(tmp_path_factory):
    model = tmp_path_factory.mktemp("tiny") / "tiny.keras"
    tiny_convnet().save(model)
    write_sidecar(model, class_names=list(CLASSES), positive_class="eczema",
                  preprocessing="none", input_size=[TINY, TINY])
    return model


def test_an_audit_with_gradcam_n_explains_n_images(keras_model, dermnet_test, tmp_path, capsys):
    data = _copy(dermnet_test, tmp_path / "d", per_class=6)
    options = dict(model=str(keras_model), data=str(data), out=None, cache=None,
                   perturbations="none", n_boot=20)
    audit = harness.audit(gradcam=8, **options)
    section = audit.results["gradcam"]
    assert section["n_images"] == 8 and section["selection"] == "stratified sample per group"
    assert "Grad-CAM on 8 images at layer" in capsys.readouterr().err
    groups = audit.samples["group"].nunique()
    assert groups >= 2
    one = harness.audit(gradcam=1, **options)
    assert one.results["gradcam"]["n_images"] == 1
    assert one.results["gradcam"]["selection"] == f"one image from each of the 1 largest of " \
                                                  f"{groups} groups"
    err = capsys.readouterr().err
    assert f"--gradcam 1 is fewer than the {groups} skin-tone groups" in err


# ------------------------------------------------------------------ compare with itself
@pytest.fixture(scope="module")
def runs(dermnet_test, tmp_path_factory):
    root = tmp_path_factory.mktemp("self-compare")
    data = _copy(dermnet_test, root / "d", per_class=4)
    common = dict(data=str(data), cache=None, quiet=True, perturbations=["noise"],
                  severities=[2], n_boot=20)
    harness.audit(model="tests/callable_models.py:redness", out=root / "a", **common)
    harness.audit(model="tests/callable_models.py:redness", out=root / "a-seed1", seed=1,
                  **common)
    harness.audit(model="tests/callable_models.py:red_over_64", out=root / "b", **common)
    return root


def test_compare_of_a_run_with_itself_warns(runs, tmp_path, capsys):
    out = tmp_path / "c"
    code = cli.main(["compare", "--baseline", str(runs / "a"), "--candidate", str(runs / "a"),
                     "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0
    assert err.startswith("warning: baseline and candidate are the same model (hash ")
    assert "same predictions" in err and err.count("\n") == 1
    summary = json.loads((out / "comparison.json").read_text())["summary"]
    assert summary[1] == err.strip()


@pytest.mark.parametrize("candidate", ["b", "a-seed1"], ids=["another model",
                                                              "same model, other predictions"])
def test_compare_of_different_runs_does_not_warn(runs, tmp_path, capsys, candidate):
    code = cli.main(["compare", "--baseline", str(runs / "a"), "--candidate",
                     str(runs / candidate), "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 0 and err.startswith("compare: baseline")
    assert "warning" not in err
    summary = json.loads((tmp_path / "c" / "comparison.json").read_text())["summary"]
    assert not any(line.startswith("warning") for line in summary)


# ------------------------------------------------------------------ the command line itself
def test_every_option_of_every_command_has_help():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    missing = [f"{name} {'/'.join(action.option_strings) or action.dest}"
               for name, command in sub.choices.items() for action in command._actions
               if action.dest != "help" and not action.help]
    assert missing == []


def test_train_lists_every_recipe(capsys):
    assert cli.main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert all(name in text for name in RECIPES)
    recipe = next(a for a in cli.build_parser()._subparsers._group_actions[0].choices["train"]
                  ._actions if a.dest == "recipe")
    assert all(name in recipe.help for name in RECIPES)
    readme = (REPO / "README.md").read_text()
    synopsis = re.search(r"python -m harness train   --data DATA.*\n(?:    .*\n)*", readme).group(0)
    assert all(name in synopsis for name in RECIPES), synopsis


def test_the_skin_tone_scheme_help_names_every_scheme():
    from subgroups.schemes import SCHEME_NAMES

    assert all(name in cli._SCHEMES for name in SCHEME_NAMES)


@pytest.mark.parametrize("command", [["report", "RUN"], ["gate", "RUN", "--gates", "g.yaml"],
                                     ["ita", "D"]])
@pytest.mark.parametrize("option", [["--seed", "1"], ["--cache", "c"]])
def test_commands_take_no_options_that_do_nothing(command, option, capsys):
    assert cli.main(command + option) == 2
    err = capsys.readouterr().err
    assert f"unrecognized arguments: {' '.join(option)}" in err


def test_ctrl_c_is_exit_130_and_the_readme_says_so(monkeypatch, capsys):
    import harness.commands.report as report

    def interrupted(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "report", interrupted)
    assert cli.main(["report", "RUN"]) == 130
    assert "cached work is kept" in capsys.readouterr().err
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "130 interrupted (Ctrl-C)" in readme


def test_the_readme_says_which_severities_the_ci_gates_need():
    readme = " ".join((REPO / "README.md").read_text().split())
    assert ("`configs/gates/ci-default.yaml` judges every perturbation family of the run at "
            "severities 1, 2 and 3") in readme
    assert "a run with `--severities 1,3` is refused before any work" in readme
