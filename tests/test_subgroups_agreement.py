"""Agreement of estimated with labelled skin types: known answers."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from subgroups import label_agreement


def test_hand_computed_example():
    est = [1, 2, 4, 6, None, 3]
    lab = [1, 3, 4, 4, 5, -1]  # last has no label; the unknown estimate counts as a miss
    r = label_agreement(est, lab)
    assert r["n"] == 5 and r["n_unlabelled"] == 1 and r["n_unknown"] == 1
    assert r["exact"] == pytest.approx(2 / 5)
    assert r["within_1"] == pytest.approx(3 / 5)
    assert r["n_kappa"] == 4
    assert r["per_type"]["4"] == {"n": 2, "exact": 0.5, "within_1": 0.5, "n_unknown": 0}
    assert r["per_type"]["5"]["n_unknown"] == 1 and r["per_type"]["5"]["within_1"] == 0.0
    cm = r["confusion"]
    assert cm["cols"][-1] == "unknown"
    row5 = cm["rows"].index("5")
    assert cm["counts"][row5][-1] == 1


def test_kappa_matches_scikit_learn():
    rng = np.random.default_rng(0)
    lab = rng.integers(1, 7, 300)
    est = np.clip(lab + rng.integers(-2, 3, 300), 1, 6)
    r = label_agreement(est.tolist(), lab.tolist())
    want = cohen_kappa_score(lab, est, weights="linear", labels=[1, 2, 3, 4, 5, 6])
    assert r["kappa_linear"] == pytest.approx(want, abs=1e-12)
    assert r["exact"] == pytest.approx(np.mean(est == lab))
    assert r["within_1"] == pytest.approx(np.mean(np.abs(est - lab) <= 1))


def test_accepts_roman_numerals_pandas_na_and_is_json_ready():
    est = pd.array([1, pd.NA, 6], dtype="Int64")
    r = label_agreement(list(est), ["I", "II", "VI"])
    assert r["exact"] == pytest.approx(2 / 3)
    json.dumps(r, allow_nan=False)


def test_nothing_to_compare_says_why():
    r = label_agreement([1, 2], [-1, None])
    assert r["n"] == 0 and r["exact"] is None and "reason" in r
    json.dumps(r, allow_nan=False)
    with pytest.raises(ValueError):
        label_agreement([1], [1, 2])
