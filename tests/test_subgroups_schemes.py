"""Named ITA binning schemes: published cut points, boundaries, order, unknown."""
from __future__ import annotations

import numpy as np
import pytest

from harness.errors import UserError
from subgroups import SCHEME_NAMES, UNKNOWN, all_schemes, bin_ita, get_scheme, group_order, load_config

SETTINGS = load_config()


def test_all_schemes_present_with_sources():
    schemes = all_schemes(settings=SETTINGS)
    assert set(schemes) == set(SCHEME_NAMES) == {"chardon6", "coarse3", "kinyanjui8", "fitzpatrick"}
    for name, sch in schemes.items():
        assert sch.source, name
        assert group_order(name)[-1] == UNKNOWN
        assert len(group_order(name)) == len(sch.groups) + 1


def test_chardon_bands_and_their_boundaries():
    ita = np.array([70, 55.01, 55, 41.01, 41, 28, 27.9, 10, 9.9, -30, -30.01, -80, np.nan])
    want = ["very_light", "very_light", "light", "light", "intermediate", "tan", "tan", "brown",
            "brown", "dark", "dark", "dark", UNKNOWN]
    assert bin_ita(ita, "chardon6").tolist() == want


def test_kinyanjui_eight_and_coarse_three():
    ita = np.array([56, 50, 45, 38, 30, 20, 15, 0])
    assert bin_ita(ita, "kinyanjui8").tolist() == [
        "very_light", "light2", "light1", "intermediate2", "intermediate1", "tan2", "tan1", "dark"]
    assert bin_ita(np.array([50, 41, 20, 10, -40]), "coarse3").tolist() == [
        "light", "medium", "medium", "dark", "dark"]


def test_fitzpatrick_cut_points_are_fitted_and_ordered():
    sch = get_scheme("fitzpatrick", settings=SETTINGS)
    assert sch.cuts == SETTINGS.ita_cuts
    assert sch.groups == ("I", "II", "III", "IV", "V", "VI")
    assert all(a > b for a, b in zip(sch.cuts, sch.cuts[1:]))
    assert "fitted" in sch.source
    # the lightest and darkest plausible skins land at the two ends
    assert bin_ita(np.array([80.0, -80.0]), "fitzpatrick", settings=SETTINGS).tolist() == ["I", "VI"]
    # the fitted scheme is never read behind the caller's back
    with pytest.raises(ValueError, match="pass settings="):
        get_scheme("fitzpatrick")
    assert group_order("fitzpatrick") == ["I", "II", "III", "IV", "V", "VI", UNKNOWN]


def test_unknown_scheme_is_a_user_error():
    with pytest.raises(UserError, match="unknown skin-tone scheme 'monk'"):
        group_order("monk")
