"""``harness.pipeline.headline``: what the summary leads with, on results with planted answers.

The planted results have a worst gap (sensitivity, 0.30, dark vs light), a perturbation that hurts
most (redness@5, and most for dark), a Grad-CAM drift that is largest under redness@5 for dark,
and a group too small to judge (``tiny``) whose numbers are the most extreme of all, so that a
function that forgets the too-small rule picks it and fails.
"""
from __future__ import annotations

import copy

import pytest

from harness.pipeline.findings import add_findings
from harness.pipeline.headline import what_we_found


def m(value, lo=None, hi=None, n=50):
    ci = [lo, hi] if lo is not None else [value - 0.05, value + 0.05]
    return {"value": value, "ci": ci, "n": n, "ci_method": "bootstrap", "reason": None}


def cell(status, n, **metrics):
    return {"status": status, "n": n, "reason": None if status == "ok" else "too few to judge",
            "metrics": {k: m(v, n=n) for k, v in metrics.items()}}


def rob(status, n, drop, flip):
    return {"status": status, "n": n, "flip_rate": m(flip, n=n),
            "drop": {"balanced_accuracy": {"absolute": m(drop, n=n), "relative": m(drop, n=n)}}}


def drift(median, n, ci=True):
    e = {"n": n, "median": median, "median_ci": [median - 0.02, median + 0.02] if ci else None,
         "reason": None if ci else "fewer than 10 images: no interval"}
    return {"all": {"n": n, "cosine": e}}


def planted() -> dict:
    status = {"light": {"status": "ok", "n": 80}, "mid": {"status": "ok", "n": 60},
              "dark": {"status": "ok", "n": 50},
              "tiny": {"status": "insufficient", "n": 6, "reason": "too few to judge: 6 images"},
              "unknown": {"status": "insufficient", "n": 2, "reason": "too few to judge: 2 images"}}
    groups = {"light": cell("ok", 80, balanced_accuracy=0.85, sensitivity=0.90),
              "mid": cell("ok", 60, balanced_accuracy=0.80, sensitivity=0.75),
              "dark": cell("ok", 50, balanced_accuracy=0.70, sensitivity=0.60),
              "tiny": cell("insufficient", 6, balanced_accuracy=0.20, sensitivity=0.0)}
    gaps = {"status": "ok", "metrics": {
        "balanced_accuracy": {"worst_group": "dark", "best_group": "light",
                              "difference": m(0.15, 0.05, 0.25)},
        "sensitivity": {"worst_group": "dark", "best_group": "light",
                        "difference": m(0.30, 0.12, 0.45)},
        "specificity": {"worst_group": "mid", "best_group": "light",
                        "difference": m(0.05, -0.02, 0.12)},
        "roc_auc": {"worst_group": None, "best_group": None,
                    "difference": {"value": None, "ci": None, "reason": "undefined"}}}}
    robustness = {
        "blur@3": {"overall": rob("ok", 190, 0.05, 0.08),
                   "groups": {"light": rob("ok", 80, 0.04, 0.05), "dark": rob("ok", 50, 0.07, 0.1)}},
        "redness@5": {"overall": rob("ok", 190, 0.20, 0.25),
                      "groups": {"light": rob("ok", 80, 0.10, 0.12),
                                 "mid": rob("ok", 60, 0.15, 0.2),
                                 "dark": rob("ok", 50, 0.35, 0.4),
                                 "tiny": rob("insufficient", 6, 0.90, 0.9)}},
    }
    return {
        "metrics": {"settings": {"gap_exclude": ["unknown"], "min_n": 30, "min_per_class": 10,
                                 "ci_level": 0.95},
                    "variants": ["clean", "blur@3", "redness@5"],
                    "groupings": {"fitzpatrick": {"groups": []},
                                  "group": {"groups": list(status), "status": status,
                                            "gap_groups": ["light", "mid", "dark"],
                                            "variants": {"clean": {"groups": groups, "gaps": gaps}},
                                            "robustness": robustness}}},
        "gradcam": {"available": True,
                    "noise_floor": {"shift_1px": {"overall": drift(0.99, 40)}},
                    "drift": {"blur@3": {"overall": drift(0.9, 40), "by_group": {}},
                              "redness@5": {"overall": drift(0.7, 40),
                                            "by_group": {"light": drift(0.8, 20),
                                                         "dark": drift(0.6, 12),
                                                         "tiny": drift(0.1, 3, ci=False),
                                                         "unknown": drift(0.2, 30)}}}},
    }


def test_the_planted_worst_gap_perturbation_and_drift_are_found():
    w = what_we_found(planted())
    assert w["grouping"] == "group"
    gap = w["worst_gap"]
    assert (gap["metric"], gap["worst_group"], gap["best_group"]) == ("sensitivity", "dark", "light")
    assert gap["difference"]["value"] == 0.30 and gap["difference"]["ci"] == [0.12, 0.45]
    assert gap["worst"]["value"] == 0.60 and gap["worst"]["n"] == 50
    assert gap["best"]["value"] == 0.90 and gap["best"]["n"] == 80
    assert gap["excludes_zero"] is True and w["gap_reason"] is None
    hurt = w["hurts_most"]
    assert (hurt["variant"], hurt["metric"], hurt["group"]) == ("redness@5", "balanced_accuracy", "dark")
    assert hurt["drop"]["value"] == 0.20 and hurt["flip_rate"]["value"] == 0.25
    assert hurt["group_drop"]["value"] == 0.35 and hurt["group_flip_rate"]["value"] == 0.4
    cam = w["gradcam"]
    assert (cam["available"], cam["variant"], cam["group"]) == (True, "redness@5", "dark")
    assert cam["drift"] == {"value": 0.7, "ci": pytest.approx([0.68, 0.72]), "n": 40,
                            "ci_method": "bootstrap", "reason": None}
    assert cam["group_drift"]["value"] == 0.6 and cam["noise_floor"]["value"] == 0.99


def test_a_group_too_small_to_judge_is_listed_with_its_interval_and_never_the_worst():
    w = what_we_found(planted())
    # tiny has the lowest sensitivity, the largest drop and the largest drift, but is never chosen.
    assert [s["group"] for s in w["too_small"]] == ["tiny"]     # unknown is excluded from gaps
    small = w["too_small"][0]
    assert small["n"] == 6 and small["reason"] == "too few to judge: 6 images"
    assert small["balanced_accuracy"]["value"] == 0.20 and small["balanced_accuracy"]["ci"] == pytest.approx([0.15, 0.25])
    assert "tiny" not in (w["worst_gap"]["worst_group"], w["hurts_most"]["group"], w["gradcam"]["group"])


def test_without_gaps_gradcam_or_perturbations_it_says_why():
    r = planted()
    gr = r["metrics"]["groupings"]["group"]
    gr["variants"]["clean"]["gaps"] = {"status": "insufficient", "reason": "fewer than 2 groups"}
    gr["robustness"] = {}
    r["gradcam"] = {"available": False, "reason": "not available for tflite models"}
    w = what_we_found(r)
    assert w["worst_gap"] is None and w["gap_reason"] == "fewer than 2 groups"
    assert w["hurts_most"] is None
    assert w["gradcam"]["available"] is False
    assert w["gradcam"]["reason"] == "not available for tflite models"
    assert what_we_found({})["gradcam"]["reason"] == "no Grad-CAM section in these results"


def test_add_findings_writes_it_and_changes_nothing_else():
    import pandas as pd

    results = planted()
    before = copy.deepcopy(results)
    out, _ = add_findings(results, pd.DataFrame({"p": [0.5]}))
    assert results == before
    assert out["findings"]["what_we_found"] == what_we_found(before)
