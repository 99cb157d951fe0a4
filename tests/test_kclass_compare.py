"""``compare`` of two K-class runs: McNemar on top-1 correctness, paired deltas of the macro
metrics and of each class's metrics, read from the two run directories."""
from __future__ import annotations

import json

import pandas as pd
import pytest

import harness
from harness.errors import UserError


def test_two_k_class_runs_are_compared_pairwise(kclass_runs, tmp_path):
    names = kclass_runs["class_names"]
    base, cand = harness.load_run(kclass_runs["soft"]), harness.load_run(kclass_runs["sharp"])
    comparison = harness.compare(base, cand)
    res = comparison.results
    assert res["dataset"]["audit"] == "kclass" and res["dataset"]["class_names"] == names
    rb = json.loads((kclass_runs["soft"] / "results.json").read_text())["metrics"]
    rc = json.loads((kclass_runs["sharp"] / "results.json").read_text())["metrics"]
    sb = pd.read_csv(kclass_runs["soft"] / "samples.csv")
    sc = pd.read_csv(kclass_runs["sharp"] / "samples.csv").set_index("file").loc[sb["file"]]
    gr = res["groupings"]["fitzpatrick"]

    right_b = (sb["pred"] == sb["label"]).to_numpy()
    right_c = (sc["pred"] == sc["label"]).to_numpy()
    m = gr["mcnemar"]["overall"]
    assert m["candidate_only_correct"] == int((right_c & ~right_b).sum())
    assert m["baseline_only_correct"] == int((right_b & ~right_c).sum())
    assert m["n"] == len(sb)

    overall = gr["deltas"]["overall"]
    for metric in ("balanced_accuracy", "macro_f1", "roc_auc", "multiclass_brier"):
        b = rb["groupings"]["fitzpatrick"]["variants"]["clean"]["overall"]["metrics"][metric]
        c = rc["groupings"]["fitzpatrick"]["variants"]["clean"]["overall"]["metrics"][metric]
        e = overall[metric]
        assert e["baseline"] == pytest.approx(b["value"], abs=1e-9)
        assert e["candidate"] == pytest.approx(c["value"], abs=1e-9)
        assert e["delta"] == pytest.approx(c["value"] - b["value"], abs=1e-9)
        assert e["ci"][0] <= e["delta"] <= e["ci"][1]
    for cname in names:
        e = overall["classes"][cname]["recall"]
        cell_b = rb["groupings"]["fitzpatrick"]["variants"]["clean"]["overall"]["classes"][cname]
        assert e["baseline"] == pytest.approx(cell_b["recall"]["value"], abs=1e-9)
        assert e["n"] == cell_b["support"]
        assert set(overall["classes"][cname]) == {"recall", "precision", "f1", "roc_auc"}
    for g in gr["groups"]:
        assert set(gr["deltas"]["groups"][g]) >= {"status"}

    flips_b = (sb["pred[blur@1]"] != sb["pred"]).mean()
    flips_c = (sc["pred[blur@1]"] != sc["pred"]).mean()
    fr = gr["robustness"]["blur@1"]["overall"]["flip_rate"]
    assert fr["delta"] == pytest.approx(flips_c - flips_b, abs=1e-12)
    assert gr["robustness"]["blur@1"]["overall"]["roc_auc"]["delta"] is None
    assert gr["corruption_error"]["status"] == "ok"

    comparison.save(tmp_path / "cmp")
    assert (tmp_path / "cmp" / "comparison.html").is_file()


def test_a_k_class_run_is_not_compared_with_a_binary_one(kclass_runs, tmp_path):
    base = harness.load_run(kclass_runs["soft"])
    binary = json.loads((kclass_runs["sharp"] / "results.json").read_text())
    binary["metrics"].pop("audit")
    run = tmp_path / "binary"
    run.mkdir()
    (run / "results.json").write_text(json.dumps(binary))
    (run / "samples.csv").write_bytes((kclass_runs["sharp"] / "samples.csv").read_bytes())
    with pytest.raises(UserError, match="is a K-class audit and .* a binary one"):
        harness.compare(base, harness.load_run(run))


def test_regression_gates_read_the_per_class_deltas(kclass_runs, tmp_path):
    gates = tmp_path / "g.yaml"
    gates.write_text("gates:\n"
                     "  - {name: benign recall, metric: recall, class: benign, max_regression: 0.0}\n"
                     "  - {name: macro F1, metric: macro_f1, max_regression: 0.5}\n")
    comparison = harness.compare(harness.load_run(kclass_runs["soft"]),
                                 harness.load_run(kclass_runs["sharp"]), gates=gates)
    rows = {r["name"]: r for r in comparison.results["gates"]["verdicts"]
            if r["kind"] == "regression"}
    d = comparison.results["groupings"]["group"]["deltas"]["overall"]["classes"]["benign"]["recall"]
    assert rows["benign recall"]["value"] == pytest.approx(-d["delta"])     # positive = worse
    assert rows["benign recall"]["class"] == "benign"
    assert "recall of benign regression" in rows["benign recall"]["message"]
    assert rows["macro F1"]["verdict"] == "PASS"
