"""Every option an audit can judge without the model or the images stops ``harness run`` before
the model is opened, before any image is decoded and before ``--out`` is created, and the message
names where the value came from: the flag, or the config file and its key.

The data is the real DermNet NZ test set (108 photographs, read in place: nothing gets as far as
reading it); the pipeline itself is replaced by a function that fails the test if it is reached.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from harness import cli
from harness.config import build_config
from harness.errors import UserError

REPO = Path(__file__).resolve().parents[1]
CI_GATES = REPO / "configs" / "gates" / "ci-default.yaml"

CASES = {
    "n-boot flag": (["--n-boot", "0"], None,
                    "--n-boot: must be a whole number of at least 1"),
    "n_boot in the config": ([], "n_boot: 0\n",
                             "{config}: n_boot: must be a whole number of at least 1"),
    "unknown family": (["--perturbations", "nosuch"], None,
                       "--perturbations: unknown perturbation 'nosuch'"),
    "unknown family in the config": ([], "perturbations: [blur, nosuch]\n",
                                     "{config}: perturbations: unknown perturbation 'nosuch'"),
    "severity": (["--severities", "1,7"], None, "--severities: severities are whole numbers 1-5"),
    "batch size": (["--batch-size", "0"], None,
                   "--batch-size: must be a whole number of at least 1"),
    "gradcam flag": (["--gradcam", "lots"], None, "--gradcam: expected all, none, auto"),
    "gradcam in the config": ([], "gradcam: lots\n", "{config}: gradcam: expected all, none, auto"),
    "scheme flag": (["--skin-tone-scheme", "nope"], None,
                    "--skin-tone-scheme: unknown skin-tone scheme 'nope'"),
    "scheme in the config": ([], "skin_tone_scheme: nope\n",
                             "{config}: skin_tone_scheme: unknown skin-tone scheme 'nope'"),
    "group size in the config": ([], "min_group_n: 0\n",
                                 "{config}: min_group_n: must be a whole number of at least 1"),
    "missing gate file": (["--gates", "{tmp}/nope.yaml"], None,
                          "{tmp}/nope.yaml: gate file not found"),
    "gate file the severities cannot answer": (
        ["--gates", str(CI_GATES), "--severities", "1,3"], None,
        f"{CI_GATES}: gate #4 ('relative balanced-accuracy drop at severity <= 3 at most 5%'): "
        "judges every perturbation family at severities 1, 2, 3, but this run has only 1, 3; run "
        "with --severities 1,2,3"),
    "model spec": (["--model-spec", "{tmp}/nope.json"], None,
                   "--model-spec {tmp}/nope.json: not a file"),
}


@pytest.fixture
def no_pipeline(monkeypatch):
    """The audit pipeline (model, images, run directory), replaced by a failure."""
    import harness.pipeline.audit

    def reached(*args, **kwargs):
        raise AssertionError("the pipeline ran: the option was not checked before the work")

    monkeypatch.setattr(harness.pipeline.audit, "run_audit", reached)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_option_stops_before_the_model_the_images_and_the_run_directory(
        case, dermnet_test, tmp_path, capsys, no_pipeline):
    argv, config_text, expected = CASES[case]
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    config = tmp_path / "audit.yaml"
    if config_text is not None:
        config.write_text(config_text)
        argv = argv + ["--config", str(config)]
    out = tmp_path / "run"
    code = cli.main(["run", "--model", "tests/callable_models.py:redness", "--data",
                     str(dermnet_test), "--out", str(out), "--cache", "none"] + argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1
    assert err.startswith("error: " + expected.format(config=config, tmp=tmp_path)), err
    if config_text is None:
        assert "audit config" not in err  # a flag's value is the flag's to fix
    assert not out.exists()


@pytest.mark.parametrize("key, metric_name, values", [
    ("n_boot", "n_boot", [0, 1, 2]),
    ("min_group_n", "min_n", [0, 1]),
    ("min_group_per_class", "min_per_class", [-1, 0]),
    ("target_sensitivity", "target_sensitivity", [0.0, 0.5, 1.0, 1.01]),
])
def test_the_config_accepts_exactly_what_the_metrics_accept(tmp_path, key, metric_name, values):
    from harness.metrics.audit_inputs import _OPTION_RULES

    ok, _ = _OPTION_RULES[metric_name]
    for value in values:
        config = tmp_path / f"{key}.yaml"
        config.write_text(f"{key}: {value}\n")
        if ok(value):
            assert getattr(build_config(model="m", data="d", out=tmp_path, config=str(config)),
                           key) == value
        else:
            with pytest.raises(UserError, match=rf"^{config}: {key}: must be"):
                build_config(model="m", data="d", out=tmp_path, config=str(config))
