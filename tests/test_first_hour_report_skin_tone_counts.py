"""One meaning of "skin tone known": the image's group is not ``unknown``, whatever its raw ITA.

The pipeline's ITA summary counts, summarises and bins only those images and gives the unknown
group no median; the report's sentence and table say the same numbers, also for a run written
before (whose ``n_known`` counted every finite raw ITA)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from reports.views.common import group_swatches
from reports.views.skin_tone import skin_tone


def tone_table() -> pd.DataFrame:
    """Three known images, three unknown ones with a raw ITA (uneven skin), one with none."""
    return pd.DataFrame({
        "ita": [50.0, 46.0, -40.0, -11.5, -12.0, 5.0, np.nan],
        "L": [70.0, 68.0, 35.0, 48.0, 47.0, 52.0, np.nan],
        "b": [15.0, 16.0, 12.0, 9.0, 9.5, 8.0, np.nan],
        "group": ["light", "light", "dark", "unknown", "unknown", "unknown", "unknown"],
    })


def test_the_summary_counts_and_bins_only_images_of_a_known_group():
    from harness.pipeline.skin_tone import ita_summary

    s = ita_summary(tone_table())
    assert (s["n"], s["n_known"]) == (7, 3)
    assert s["summary"]["n"] == 3 and s["summary"]["median"] == 46.0
    assert sum(s["histogram"]["counts"]) == 3
    assert s["per_group"]["unknown"] == {"n": 4, "ita_median": None, "L_median": None, "b_median": None}
    assert s["per_group"]["light"] == {"n": 2, "ita_median": 48.0, "L_median": 69.0, "b_median": 15.5}


def results_of(ita: dict) -> dict:
    return {"groups": {"scheme": "coarse3", "order": ["light", "medium", "dark", "unknown"],
                       "scheme_info": {"name": "coarse3", "cuts": [41.0, 10.0]},
                       "counts": {"light": 60, "medium": 30, "dark": 15, "unknown": 3}, "ita": ita}}


def written_before() -> dict:
    """A ``groups.ita`` as runs wrote it before: every finite raw ITA counted as known."""
    return {"n": 108, "n_known": 108,
            "summary": {"n": 108, "mean": 29.2, "median": 31.1, "p05": -16.5, "p95": 69.5},
            "histogram": {"edges": list(range(-90, 91, 10)), "counts": [0] * 6 + [3, 5, 10, 20, 30, 25, 15] + [0] * 5},
            "per_group": {"light": {"n": 60, "ita_median": 54.2, "L_median": 69.0, "b_median": 13.1},
                          "medium": {"n": 30, "ita_median": 23.7, "L_median": 60.6, "b_median": 22.5},
                          "dark": {"n": 15, "ita_median": -5.8, "L_median": 47.3, "b_median": 19.3},
                          "unknown": {"n": 3, "ita_median": -11.5, "L_median": 49.2, "b_median": 8.2}}}


def test_the_sentence_and_the_table_agree_on_the_unknown_images():
    for ita in (written_before(),
                {**written_before(), "n_known": 105, "summary": {**written_before()["summary"], "n": 105},
                 "per_group": {**written_before()["per_group"],
                               "unknown": {"n": 3, "ita_median": None, "L_median": None, "b_median": None}}}):
        results = results_of(ita)
        tone = skin_tone(results)["tone"]
        assert (tone["summary"]["n"], tone["summary"]["n_unknown"], tone["summary"]["n_total"]) == ("105", "3", "108")
        unknown = next(r for r in tone["rows"] if r["name"] == "unknown")
        assert (unknown["n"], unknown["ita_median"], unknown["L"], unknown["b"]) == ("3", "—", "—", "—")
        assert unknown["swatch_known"] is False and "too little skin" in unknown["range"]
        light = next(r for r in tone["rows"] if r["name"] == "light")
        assert light["ita_median"] == "54.2°" and light["swatch_known"] is True
        sw = group_swatches(results, "group", ["light", "unknown"])
        assert sw["light"] is not None and sw["unknown"] is None


def test_no_unknown_image_means_no_unknown_clause():
    ita = {**written_before(), "n_known": 105}
    results = results_of(ita)
    results["groups"]["counts"]["unknown"] = 0
    results["groups"]["ita"]["n"] = 105
    tone = skin_tone(results)["tone"]
    assert (tone["summary"]["n"], tone["summary"]["n_unknown"]) == ("105", "")
