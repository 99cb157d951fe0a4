"""The skin-tone settings flow from the audit config: read once, validated there, passed down.

``skin_tone_config`` (a YAML audit config key) names the settings file; ``AuditConfig.skin_tone``
holds them parsed; ``subgroups`` never reads a file on its own, and the pipeline and
``harness ita`` use the settings they are given.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from harness.config import build_config  # noqa: E402
from harness.demo.synthetic import make_synthetic_dataset, render_synthetic  # noqa: E402
from harness.errors import UserError  # noqa: E402
from subgroups import estimate_skin_tone, get_scheme, load_config, skin_mask  # noqa: E402

PACKAGED = Path(__file__).resolve().parents[1] / "configs" / "skin_tone.yaml"
CALLABLE = str(Path(__file__).parent / "callable_models.py") + ":redness"


def strict_settings(tmp_path: Path, **unknown) -> Path:
    """A copy of the packaged settings with a different ``unknown`` rule."""
    raw = yaml.safe_load(PACKAGED.read_text(encoding="utf-8"))
    raw["unknown"].update(unknown)
    path = tmp_path / "strict_tone.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def audit_config(tmp_path: Path, **keys) -> Path:
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(keys), encoding="utf-8")
    return path


def test_default_settings_are_the_packaged_file_and_json_names_only_the_file(tmp_path):
    cfg = build_config(model="m", data="d", out=tmp_path)
    assert cfg.skin_tone_config is None
    packaged = load_config()
    assert cfg.skin_tone.source == "configs/skin_tone.yaml"
    assert (cfg.skin_tone.mask, cfg.skin_tone.ita_cuts) == (packaged.mask, packaged.ita_cuts)
    assert np.array_equal(cfg.skin_tone.model.coef, packaged.model.coef)
    out = cfg.to_json()
    assert out["skin_tone_config"] is None and "skin_tone" not in out
    json.dumps(out)


def test_a_settings_file_from_the_audit_config_is_parsed_once_into_the_config(tmp_path):
    path = strict_settings(tmp_path, min_skin_fraction=0.5)
    cfg = build_config(model="m", data="d", out=tmp_path,
                       config=str(audit_config(tmp_path, skin_tone_config=str(path))))
    assert cfg.skin_tone_config == str(path) and cfg.to_json()["skin_tone_config"] == str(path)
    assert cfg.skin_tone.min_skin_fraction == 0.5 and cfg.skin_tone.source == str(path)
    assert cfg.skin_tone.mask == load_config().mask


def test_bad_settings_fail_when_the_config_is_built_naming_the_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(UserError, match=rf"^skin_tone_config {missing}: skin-tone config not found"):
        build_config(model="m", data="d", out=tmp_path,
                     config=str(audit_config(tmp_path, skin_tone_config=str(missing))))
    bad = tmp_path / "bad_tone.yaml"
    bad.write_text("mask: {no_such: 1}\nita_cuts: {cuts: [5, 4, 3, 2, 1]}\n", encoding="utf-8")
    with pytest.raises(UserError, match=rf"^{bad}: invalid skin-tone config \(unknown mask parameter"):
        build_config(model="m", data="d", out=tmp_path,
                     config=str(audit_config(tmp_path, skin_tone_config=str(bad))))
    with pytest.raises(UserError, match=r"option 'skin_tone_config' must be str, got 3"):
        build_config(model="m", data="d", out=tmp_path,
                     config=str(audit_config(tmp_path, skin_tone_config=3)))


def test_subgroups_never_read_a_file_behind_the_callers_back(monkeypatch):
    settings = load_config()
    images = render_synthetic(n=6, size=96, seed=2).images

    def no_reading(*args, **kwargs):
        raise AssertionError("subgroups read a YAML file on its own")

    monkeypatch.setattr("harness.yaml_file.read_yaml", no_reading)
    monkeypatch.setattr("subgroups.config.read_yaml", no_reading)
    tone = estimate_skin_tone(images, settings=settings, scheme="fitzpatrick")
    assert len(tone) == 6 and skin_mask(images[0], settings=settings).any()
    assert get_scheme("fitzpatrick", settings=settings).cuts == settings.ita_cuts
    with pytest.raises(TypeError):
        estimate_skin_tone(images)  # the settings are a required keyword


def test_the_audit_and_harness_ita_use_the_settings_they_are_given(tmp_path):
    from harness.commands.ita import run_ita
    from harness.pipeline.audit import run_audit

    data = make_synthetic_dataset(tmp_path / "data", n=24, size=64, seed=3).parent
    strict = strict_settings(tmp_path, min_skin_fraction=1.0)  # no image shows that much skin
    groups = {}
    for name, settings_file in (("packaged", None), ("strict", strict)):
        keys = {"perturbations": ["redness"], "severities": [1], "gradcam": "none", "n_boot": 20,
                "thumbnails": False}
        if settings_file is not None:
            keys["skin_tone_config"] = str(settings_file)
        cfg = build_config(model=CALLABLE, data=str(data), out=tmp_path / name,
                           config=str(audit_config(tmp_path, **keys)))
        results = run_audit(cfg)  # cache_dir None: no cache
        groups[name] = results["groups"]["counts"]
        assert results["config"]["skin_tone_config"] == keys.get("skin_tone_config")
    assert groups["strict"]["unknown"] == 24
    assert groups["packaged"]["unknown"] < 24
    csv = tmp_path / "ita.csv"
    assert run_ita(data=str(data), out=str(csv), size=64, quiet=True, skin_tone_config=str(strict)) == 0
    table = pd.read_csv(csv)
    assert (table["group"] == "unknown").all() and table["fitzpatrick_est"].isna().all()
    assert run_ita(data=str(data), out=str(csv), size=64, quiet=True) == 0
    assert (pd.read_csv(csv)["group"] != "unknown").any()
    assert np.isfinite(table["ita"]).all()  # the ITA is measured either way
