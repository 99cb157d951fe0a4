"""estimate_skin_tone: columns, determinism, the unknown rule, the fitted config and model."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import yaml

from harness.errors import UserError
from harness.demo.synthetic import render_synthetic
from subgroups import estimate_skin_tone, group_order, load_config, mask_version
from subgroups.config import parse_config
from subgroups.features import feature_vector
from subgroups.mask import analyse_image
from subgroups.ordinal import OrdinalModel, fit_ordinal

SETTINGS = load_config()
COLUMNS = ["ita", "ita_iqr", "skin_fraction", "L", "b", "group", "fitzpatrick_est"]


@pytest.fixture(scope="module")
def batch():
    return render_synthetic(n=40, size=128, seed=5)


def test_columns_types_and_groups(batch):
    tone = estimate_skin_tone(batch.images, settings=SETTINGS)
    assert list(tone.columns) == COLUMNS and len(tone) == 40
    assert str(tone["fitzpatrick_est"].dtype) == "Int64"
    assert set(tone["group"]) <= set(group_order("chardon6"))
    assert tone["skin_fraction"].between(0, 1).all()
    # light synthetic skin gets a lighter Fitzpatrick estimate than dark synthetic skin
    light = batch.meta["ita_true"].to_numpy() > 35
    dark = batch.meta["ita_true"].to_numpy() < -20
    est = tone["fitzpatrick_est"].astype(float).to_numpy()
    assert np.nanmean(est[light]) + 1.5 < np.nanmean(est[dark])


def test_deterministic_and_independent_of_threads(batch):
    a = estimate_skin_tone(batch.images, settings=SETTINGS, workers=1)
    b = estimate_skin_tone(batch.images, settings=SETTINGS, workers=3)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("scheme", ["chardon6", "coarse3", "kinyanjui8", "fitzpatrick"])
def test_every_scheme_names_groups_from_its_order(batch, scheme):
    tone = estimate_skin_tone(batch.images[:10], settings=SETTINGS, scheme=scheme)
    assert set(tone["group"]) <= set(group_order(scheme))
    if scheme == "fitzpatrick":
        roman = ["I", "II", "III", "IV", "V", "VI"]
        for g, f in zip(tone["group"], tone["fitzpatrick_est"]):
            assert g == ("unknown" if f is pd.NA else roman[int(f) - 1])


def test_no_skin_means_unknown_never_a_dropped_row():
    blue = np.zeros((3, 64, 64, 3), np.uint8)
    blue[..., 2] = 180
    tone = estimate_skin_tone(blue, settings=SETTINGS)
    assert len(tone) == 3
    assert (tone["group"] == "unknown").all()
    assert tone["fitzpatrick_est"].isna().all()
    assert tone["ita"].isna().all() and (tone["skin_fraction"] == 0).all()


def _plain_skin(ita: float) -> np.ndarray:
    return render_synthetic(n=1, size=128, seed=1, ita=np.array([ita]), lighting=0.0,
                            lesion_strength=0.0, background=0, hair=0, specular=0).images[0]


def test_ita_iqr_measures_spread_and_too_much_spread_is_unknown():
    even = _plain_skin(45.0)
    halves = even.copy()
    halves[:, 64:] = _plain_skin(15.0)[:, 64:]
    tone = estimate_skin_tone(np.stack([even, halves]), settings=SETTINGS, workers=1)
    assert tone["ita_iqr"][0] < 3.0
    assert 22.0 < tone["ita_iqr"][1] < 34.0  # blocks at 45 and 15 degrees, half each
    assert tone["group"][0] == "light" and tone["group"][1] != "unknown"
    strict = replace(SETTINGS, max_ita_iqr=20.0)
    tone = estimate_skin_tone(np.stack([even, halves]), settings=strict)
    assert tone["group"].tolist() == ["light", "unknown"]
    assert tone["fitzpatrick_est"].notna().all()  # the estimate needs skin, not a single ITA


def test_empty_batch():
    tone = estimate_skin_tone(np.zeros((0, 32, 32, 3), np.uint8), settings=SETTINGS)
    assert list(tone.columns) == COLUMNS and len(tone) == 0


def test_packaged_config_is_complete_and_consistent():
    cfg = load_config()
    assert cfg.model is not None and len(cfg.model.features) > 10
    assert mask_version(cfg.mask).startswith("skinmask-3-")
    assert mask_version(replace(cfg.mask, L_min=13.0)) != mask_version(cfg.mask)
    # every stored feature can be computed
    img = render_synthetic(n=1, size=96, seed=0).images[0]
    x = feature_vector(img, analyse_image(img, cfg.mask), cfg.model.features)
    assert x.shape == (len(cfg.model.features),) and np.isfinite(x).all()
    # the file is plain YAML with the evaluation beside the fit
    raw = cfg.raw
    assert "evaluation" in raw and "fitted" in raw
    json.dumps(raw, allow_nan=False)


def test_bad_config_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="ita_cuts"):
        parse_config({"mask": {}, "ita_cuts": {"cuts": [1, 2, 3, 4, 5]}}, where="x.yaml")
    with pytest.raises(UserError, match="invalid skin-tone config"):
        parse_config({"mask": {"no_such": 1}, "ita_cuts": {"cuts": [5, 4, 3, 2, 1]}}, where="x.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("mask: [")
    from subgroups.config import load_config as load

    with pytest.raises(UserError, match="not valid YAML"):
        load(bad)


def test_ordinal_model_recovers_a_planted_ordering_and_round_trips():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    latent = 2.0 * X[:, 0] - 1.0 * X[:, 1] + rng.logistic(size=600) * 0.5
    y = np.digitize(latent, [-3, -1.5, 0, 1.5, 3]) + 1
    m = fit_ordinal(X, y, features=("a", "b", "c"), l2=1.0, exact_weight=0.25)
    assert m.coef[0] > 1.0 and m.coef[1] < -0.5 and abs(m.coef[2]) < 0.3
    assert (np.abs(m.decide(X) - y) <= 1).mean() > 0.9
    assert np.allclose(m.proba(X).sum(1), 1.0)
    again = OrdinalModel.from_dict(yaml.safe_load(yaml.safe_dump(m.to_dict())))
    assert np.array_equal(again.decide(X), m.decide(X))
