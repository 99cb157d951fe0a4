"""A malformed gate file exits 2 with one line naming the file, the gate and the problem."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gates_runs import make_pair  # noqa: E402
from harness import cli  # noqa: E402
from harness.gates.evaluate import Gate, load_gates  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    base, _ = make_pair(tmp_path_factory.mktemp("gate_file_runs"), gradcam=False, n_boot=50)
    return base


GOOD = "  - name: auc floor\n    metric: roc_auc\n    min: 0.5\n"

# (file text, words the one-line error must contain)
MALFORMED = {
    "not yaml": ("gates:\n  - name: [unclosed\n", ["not valid YAML", "line"]),
    "tabs break yaml": ("gates:\n\t- metric: roc_auc\n", ["not valid YAML"]),
    "not a mapping": ("- metric: roc_auc\n  min: 0.5\n", ["'gates:' list", "list"]),
    "no gates key": ("checks:\n" + GOOD, ["'gates:' list", "checks"]),
    "gates not a list": ("gates:\n  metric: roc_auc\n", ["non-empty list", "dict"]),
    "empty gates": ("gates: []\n", ["non-empty list"]),
    "gate not a mapping": ("gates:\n  - roc_auc >= 0.5\n", ["gate #1", "expected a mapping"]),
    "unknown metric": ("gates:\n" + GOOD + "  - name: typo\n    metric: roc_acu\n    min: 0.5\n",
                       ["gate #2 ('typo')", "unknown metric 'roc_acu'", "did you mean 'roc_auc'"]),
    "no metric": ("gates:\n  - name: nothing\n    min: 0.5\n", ["gate #1 ('nothing')",
                                                             "needs a metric"]),
    "unknown scope": ("gates:\n  - name: s\n    metric: roc_auc\n    scope: every_group\n"
                      "    min: 0.5\n", ["gate #1 ('s')", "unknown scope 'every_group'",
                                         "each_group"]),
    "neither min nor max": ("gates:\n  - name: unbounded\n    metric: roc_auc\n",
                            ["gate #1 ('unbounded')", "needs a bound"]),
    "min not a number": ("gates:\n  - name: pct\n    metric: flip_rate\n    min: 10%\n",
                         ["gate #1 ('pct')", "min must be a number", "'10%'"]),
    "max is a bool": ("gates:\n  - name: b\n    metric: ece\n    max: yes\n",
                      ["max must be a number", "True"]),
    "min above max": ("gates:\n  - name: band\n    metric: roc_auc\n    min: 0.9\n    max: 0.8\n",
                      ["min 0.9 is above max 0.8"]),
    "warn looser than fail": ("gates:\n  - name: w\n    metric: ece\n    max: 0.1\n"
                              "    warn_max: 0.2\n", ["warn_max 0.2 is above max 0.1"]),
    "unknown key": ("gates:\n  - name: k\n    metric: ece\n    maximum: 0.1\n",
                    ["unknown key 'maximum'", "did you mean 'max'"]),
    "bad severity": ("gates:\n  - name: sev\n    metric: flip_rate\n    severity: high\n"
                     "    max: 0.1\n", ["severity must be", "'high'"]),
    "severity twice": ("gates:\n  - name: twice\n    metric: flip_rate\n    perturbation: blur@3\n"
                       "    severity: 3\n    max: 0.1\n", ["give the severity once"]),
    "eod per group": ("gates:\n  - name: eod\n    metric: equalized_odds_difference\n"
                      "    scope: each_group\n    max: 0.1\n", ["scope must be group_gap"]),
    "groups outside gap": ("gates:\n  - name: g\n    metric: roc_auc\n    groups: [a, b]\n"
                           "    min: 0.5\n", ["'groups' picks the pair"]),
    "one group": ("gates:\n  - name: g\n    metric: roc_auc\n    scope: group_gap\n"
                  "    groups: [light]\n    max: 0.1\n", ["two different group names"]),
    "regression mixed": ("gates:\n  - name: r\n    metric: sensitivity\n    max_regression: 0.05\n"
                         "    min: 0.5\n", ["cannot also have min"]),
    "regression on drift": ("gates:\n  - name: r\n    metric: drift_cosine\n"
                            "    max_regression: 0.05\n", ["regression gates support"]),
    "drift by label": ("gates:\n  - name: d\n    metric: drift_cosine\n    grouping: fitzpatrick\n"
                       "    min: 0.8\n", ["per estimated skin-tone group only"]),
    "flip on clean": ("gates:\n  - name: f\n    metric: flip_rate\n    perturbation: clean\n"
                      "    max: 0.1\n", ["cannot be 'clean'"]),
    # known only against the run: the perturbation does not exist / was not run
    "unknown perturbation": ("gates:\n  - name: p\n    metric: flip_rate\n    perturbation: blurr\n"
                             "    max: 0.1\n", ["gate #1 ('p')", "unknown perturbation 'blurr'"]),
    "perturbation not run": ("gates:\n  - name: p\n    metric: flip_rate\n"
                             "    perturbation: redness\n    severity: 2\n    max: 0.1\n",
                             ["needs perturbation redness@2", "re-run with --perturbations "
                              "redness --severities 2"]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_gate_file_exits_2_with_one_line(case, run_dir, tmp_path, capsys):
    text, words = MALFORMED[case]
    path = tmp_path / "bad gates.yaml"
    path.write_text(text, encoding="utf-8")
    code = cli.main(["gate", str(run_dir), "--gates", str(path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, (case, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and str(path) in lines[0]
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (case, w, lines[0])
    assert not (run_dir / "junit.xml").exists()      # nothing is judged, nothing written


def test_missing_gate_file_exits_2(run_dir, tmp_path, capsys):
    code = cli.main(["gate", str(run_dir), "--gates", str(tmp_path / "nope.yaml"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "nope.yaml: gate file not found" in err


def test_a_full_gate_parses_to_its_fields(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(
        "gates:\n"
        "  - name: AUC light vs dark\n    metric: roc_auc\n    scope: group_gap\n"
        "    groups: first_vs_last\n    min: -0.1\n    max: 0.1\n    warn_min: -0.05\n"
        "    warn_max: 0.05\n"
        "  - metric: flip_rate\n    scope: each_group\n    perturbation: [blur, redness]\n"
        "    severity: '<=3'\n    max: 0.1\n"
        "  - name: fitz pair\n    metric: sensitivity\n    scope: group_gap\n"
        "    grouping: fitzpatrick\n    groups: [1, 6]\n    max: 0.1\n"
        "  - name: reg\n    metric: sensitivity\n    scope: each_group\n    max_regression: 0.05\n",
        encoding="utf-8")
    a, b, c, d = load_gates(path)
    assert a == Gate(name="AUC light vs dark", metric="roc_auc", scope="group_gap",
                     groups="first_vs_last", min=-0.1, max=0.1, warn_min=-0.05, warn_max=0.05,
                     index=0, source=str(path))
    assert b.name == "flip_rate each_group" and b.perturbation == ("blur", "redness")
    assert b.severity == (1, 2, 3) and b.kind == "absolute"
    assert c.groups == ("1", "6") and c.grouping == "fitzpatrick"
    assert d.kind == "regression" and d.bound() == {"max": 0.05}
    assert load_gates(path)[1].label == f"{path}: gate #2 ('flip_rate each_group')"
