"""The first hour on a small real test set: twelve DermNet NZ photographs (copied into tmp_path),
four of them with skin too uneven to read, audited with the closed-form callable model.

Every skin-tone group (and the whole set) is below the small-group rule. The report must still
say how the model does for each group — the estimate with its wide interval, marked "too few to
judge", never gated — and the count of images whose skin tone is known must mean one thing in
results.json, the sentence above the table and the table itself.
"""
from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

import harness

REPO = Path(__file__).resolve().parents[1]
MODEL = str(REPO / "tests" / "callable_models.py") + ":redness"
#: Their skin-tone group is ``unknown`` (ITA spread > 45° across the skin), though an ITA is measured.
UNEVEN = ("atopic_dermatitis/atopic44.jpg", "atopic_dermatitis/ecz-atopic1.jpg",
          "eczema/020804163243-148.jpg", "eczema/nummular8.jpg")
KNOWN = ("atopic_dermatitis/atopic-dermatitis-0009.jpg", "atopic_dermatitis/atopic-dermatitis-0013.jpg",
         "atopic_dermatitis/atopic-dermatitis-0028.jpg", "atopic_dermatitis/atopic-dermatitis-0039.jpg",
         "eczema/04.jpg", "eczema/12.jpg", "eczema/2812.jpg", "eczema/2830.jpg")
RULE = "(the rule: at least 30 images and 10 of each class)"
GATES = """gates:
  - {name: balanced accuracy overall, metric: balanced_accuracy, scope: overall, min: 0.0}
  - {name: sensitivity per group, metric: sensitivity, scope: each_group, min: 0.0}
  - {name: worst group, metric: balanced_accuracy, scope: worst_group, min: 0.0}
  - {name: light vs tan, metric: sensitivity, scope: group_gap, groups: [light, tan], max: 1.0}
  - {name: blur flips per group, metric: flip_rate, scope: each_group, perturbation: blur, severity: 3, max: 1.0}
"""


@pytest.fixture(scope="module")
def run(dermnet_test, tmp_path_factory):
    data = tmp_path_factory.mktemp("small_dermnet")
    for rel in UNEVEN + KNOWN:
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(dermnet_test / rel, data / rel)
    gates = data.parent / "gates.yaml"
    gates.write_text(GATES, encoding="utf-8")
    out = data.parent / "run"
    harness.audit(model=MODEL, data=str(data), out=str(out), gates=str(gates), perturbations=["blur"],
                  severities=[3], gradcam="none", n_boot=200, cache=None, quiet=True)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return out, results


class Cells(HTMLParser):
    """Rows of one table (by id): per row its ``data-group`` and, per cell, the text of the
    ``est`` parts ("v", "ci", "n", "mark") and the wrapper's classes."""

    def __init__(self, table_id: str):
        super().__init__(convert_charrefs=True)
        self.table_id, self.rows, self._in, self._stack = table_id, [], False, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == self.table_id:
            self._in = True
        elif self._in and tag == "tr":
            self.rows.append({"group": a.get("data-group"), "cells": []})
        elif self._in and tag == "td" and self.rows:
            self.rows[-1]["cells"].append({"text": "", "classes": [], "parts": {}})
        elif self._in and tag == "span" and self.rows and self.rows[-1]["cells"]:
            cls = (a.get("class") or "").split()
            if "est" in cls:
                self.rows[-1]["cells"][-1]["classes"] = cls
            self._stack.append(next((c for c in cls if c in ("v", "ci", "n", "mark")), None))

    def handle_endtag(self, tag):
        if tag == "table" and self._in:
            self._in = False
        elif tag == "span" and self._stack:
            self._stack.pop()

    def handle_data(self, data):
        if self._in and self.rows and self.rows[-1]["cells"]:
            cell = self.rows[-1]["cells"][-1]
            cell["text"] += data
            for part in filter(None, self._stack):
                cell["parts"][part] = cell["parts"].get(part, "") + data


def f3(x: float) -> str:
    return f"{x:.3f}".replace("-", "−")


def table(page: str, table_id: str) -> list[dict]:
    reader = Cells(table_id)
    reader.feed(page)
    return reader.rows


def test_every_small_group_shows_its_estimate_with_interval_and_mark(run):
    out, results = run
    gr = results["metrics"]["groupings"]["group"]
    clean = gr["variants"]["clean"]
    assert clean["overall"]["status"] == "insufficient"          # 12 images: nothing is judged
    assert {c["status"] for c in clean["groups"].values()} == {"insufficient"}
    unknown = clean["groups"]["unknown"]
    assert unknown["reason"] == f"too few to judge: 4 images, 2 atopic_dermatitis, 2 eczema {RULE}"
    assert clean["overall"]["reason"] == f"too few to judge: 12 images, 6 atopic_dermatitis, 6 eczema {RULE}"
    page = (out / "report.html").read_text(encoding="utf-8")
    rows = {r["group"]: r["cells"] for r in table(page, "perf-group-discrimination") if r["group"]}
    assert set(rows) == {"overall", *clean["groups"]}
    shown = 0
    for name, cells in rows.items():
        cell = clean["overall"] if name == "overall" else clean["groups"][name]
        for key, c in zip(("balanced_accuracy", "sensitivity", "specificity", "roc_auc", "macro_f1"), cells[3:]):
            m = cell["metrics"][key]
            assert "insufficient" in c["classes"], (name, key, c)
            if m["value"] is None or m["ci"] is None:       # nothing to show with an interval
                assert c["text"].strip().startswith("too few to judge (n=") and not c["parts"].get("ci")
                continue
            assert c["parts"]["v"] == f3(m["value"])
            assert c["parts"]["ci"] == f"[{f3(m['ci'][0])}, {f3(m['ci'][1])}]"
            assert c["parts"]["n"] == f"n={m['n']}"
            assert c["parts"]["mark"] == "too few to judge"
            shown += 1
    assert shown >= 10   # the overall row and the groups with both classes have numbers
    flips = {r["cells"][0]["text"]: r["cells"] for r in table(page, "flip-rates") if r["cells"]}
    overall_flip = gr["robustness"]["blur@3"]["overall"]["flip_rate"]
    assert flips["blur@3"][1]["parts"]["v"] == f3(overall_flip["value"])
    assert flips["blur@3"][1]["parts"]["mark"] == "too few to judge"
    summary = (out / "summary.md").read_text(encoding="utf-8")
    ba = clean["overall"]["metrics"]["balanced_accuracy"]
    assert (f"Balanced accuracy {f3(ba['value'])} [{f3(ba['ci'][0])}, {f3(ba['ci'][1])}] "
            f"(n=12, too few to judge)") in summary
    flip_line = next(line for line in summary.splitlines() if line.startswith("- Largest flip rate"))
    assert flip_line.endswith(f"{f3(overall_flip['value'])} [{f3(overall_flip['ci'][0])}, "
                              f"{f3(overall_flip['ci'][1])}] of predictions (n=12, too few to judge).")


def test_no_small_group_is_gated_and_the_reason_says_why(run):
    _, results = run
    verdicts = results["gates"]["verdicts"]
    named = [g for g in results["metrics"]["groupings"]["group"]["groups"] if g != "unknown"]
    assert {"light", "tan"} <= set(named)
    assert len(verdicts) == 1 + len(named) + 1 + 1 + len(named)   # overall, groups, worst, pair, at blur@3
    assert {v["verdict"] for v in verdicts} == {"INSUFFICIENT"}
    assert results["gates"]["passed"] is True
    status = results["metrics"]["groupings"]["group"]["status"]
    for v in verdicts:
        assert v["value"] is None and v["ci"] is None
        if v["group"] is not None:
            assert v["reason"] == status[v["group"]]["reason"] and v["reason"].endswith(RULE)
    overall = next(v for v in verdicts if v["scope"] == "overall")
    assert overall["reason"].startswith("too few to judge: 12 images")
    gaps = results["metrics"]["groupings"]["group"]["variants"]["clean"]["gaps"]
    pair = next(v for v in verdicts if v["scope"] == "group_gap")
    assert pair["reason"] == gaps["reason"]


def test_no_raw_python_list_in_any_text(run):
    out, results = run
    gaps = results["metrics"]["groupings"]["group"]["variants"]["clean"]["gaps"]
    assert gaps["reason"] == f"fewer than 2 groups with enough images to compare (none qualifies; {RULE[1:]}"
    for name in ("report.html", "summary.md", "model_card.md"):
        text = (out / name).read_text(encoding="utf-8")
        assert "(got 0" not in text and ": [])" not in text and "[]" not in text, name


def test_known_skin_tone_means_not_unknown_everywhere(run):
    out, results = run
    groups = results["groups"]
    ita = groups["ita"]
    assert groups["counts"]["unknown"] == len(UNEVEN)
    assert ita["n"] == 12 and ita["n_known"] == 12 - len(UNEVEN) == len(KNOWN)
    assert ita["summary"]["n"] == ita["n_known"] == sum(ita["histogram"]["counts"])
    assert ita["per_group"]["unknown"] == {"n": 4, "ita_median": None, "L_median": None, "b_median": None}
    samples = (out / "samples.csv").read_text(encoding="utf-8")
    assert samples.count(",unknown,") == 4            # their raw ITA stays in samples.csv
    page = (out / "report.html").read_text(encoding="utf-8")
    sentence = re.search(r'<p id="ita-summary">(.*?)</p>', page, re.S).group(1)
    assert "over the n=8 images whose skin tone is known; 4 of 12 are unknown" in sentence
    tone = {r["cells"][0]["text"]: [c["text"] for c in r["cells"]] for r in table(page, "tone-groups") if r["cells"]}
    assert tone["unknown"][3] == "4"                 # images
    assert tone["unknown"][5] == "—"                 # no median ITA for images without a reliable one
    assert "too little skin, or its ITA too uneven" in tone["unknown"][2]
