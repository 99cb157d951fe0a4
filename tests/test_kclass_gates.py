"""Gates on a K-class audit: macro metrics by name, per-class metrics with ``class: NAME``."""
from __future__ import annotations

import numpy as np
import pytest

from harness.errors import UserError
from harness.gates.evaluate import evaluate_gates, load_gates
from harness.metrics.kclass_audit import kclass_audit_metrics

NAMES = ["benign", "malignant", "non-neoplastic"]


@pytest.fixture(scope="module")
def results():
    rng = np.random.default_rng(5)
    n = 240
    y = np.tile(np.repeat(np.arange(3), 40), 2)
    tone = np.repeat(["light", "dark"], 120)
    right = rng.random(n) < np.where(tone == "light", 0.85, 0.6)
    pred = np.where(right, y, (y + 1 + rng.integers(0, 2, n)) % 3)
    P = np.full((n, 3), 0.1)
    P[np.arange(n), pred] = 0.8
    Pb = P.copy()
    Pb[:20] = P[:20][:, [1, 2, 0]]
    metrics = kclass_audit_metrics(y_true=y, probs={"clean": P, "blur@1": Pb}, class_names=NAMES,
                                   groups={"group": tone}, n_boot=200,
                                   group_order={"group": ["light", "dark"]})
    return {"metrics": metrics, "gradcam": {"available": False, "reason": "disabled"}}


def _gates(tmp_path, text):
    path = tmp_path / "g.yaml"
    path.write_text(text)
    return load_gates(path)


def test_per_class_and_macro_gates_read_their_cells(tmp_path, results):
    gates = _gates(tmp_path, """
gates:
  - {name: melanoma-like recall, metric: recall, class: malignant, scope: each_group, min: 0.5}
  - {name: benign precision, metric: class_precision, class: benign, scope: overall, min: 0.99}
  - {name: recall gap, metric: recall, class: benign, scope: group_gap, max: 0.9}
  - {name: macro F1, metric: macro_f1, scope: worst_group, min: 0.4}
  - {name: flips, metric: flip_rate, perturbation: blur, severity: 1, max: 0.5}
""")
    out = evaluate_gates(results, gates)
    rows = {(r["name"], r["group"]): r for r in out["verdicts"]}
    cells = results["metrics"]["groupings"]["group"]["variants"]["clean"]
    for g in ("light", "dark"):
        row = rows[("melanoma-like recall", g)]
        entry = cells["groups"][g]["classes"]["malignant"]["recall"]
        assert row["class"] == "malignant" and row["value"] == entry["value"]
        assert row["ci"] == entry["ci"] and row["n"] == 40
        assert "recall of malignant" in row["message"]
    precision = rows[("benign precision", None)]
    assert precision["value"] == cells["overall"]["classes"]["benign"]["precision"]["value"]
    assert precision["verdict"] in ("FAIL", "WARN")
    gap = rows[("recall gap", None)]
    assert gap["value"] == cells["gaps"]["classes"]["benign"]["recall"]["difference"]["value"]
    worst = rows[("macro F1", None)]
    assert worst["groups"] == ["dark"]
    assert worst["value"] == cells["groups"]["dark"]["metrics"]["macro_f1"]["value"]
    flips = rows[("flips", None)]
    assert flips["value"] == pytest.approx(20 / 240)


def test_gates_the_audit_cannot_answer_name_the_fix(tmp_path, results):
    with pytest.raises(UserError, match="sensitivity is a binary metric and this is a K-class"):
        evaluate_gates(results, _gates(tmp_path, "gates:\n  - {metric: sensitivity, min: 0.5}\n"))
    with pytest.raises(UserError, match="class 'melanoma' is not a class of this audit"):
        evaluate_gates(results, _gates(tmp_path, "gates:\n  - {metric: recall, class: melanoma, "
                                                 "min: 0.5}\n"))
    with pytest.raises(UserError, match="per-class metric of a K-class audit: name the class"):
        _gates(tmp_path, "gates:\n  - {metric: class_recall, min: 0.5}\n")
    with pytest.raises(UserError, match="goes with a per-class metric"):
        _gates(tmp_path, "gates:\n  - {metric: macro_f1, class: benign, min: 0.5}\n")


@pytest.mark.parametrize("text, message", [
    ("gates:\n  - {metric: recall, class: melanoma, min: 0.5}\n",
     "class 'melanoma' is not a class of this audit"),
    ("gates:\n  - {metric: sensitivity, min: 0.5}\n", "sensitivity is a binary metric"),
])
def test_a_gate_the_k_class_audit_cannot_answer_stops_it_before_the_work(tmp_path, text, message):
    """Found when the model is open, before skin tone, ladder and predictions: nothing written."""
    import harness
    from conftest import kclass_sharp

    calls = {"n": 0}

    def model(images):
        calls["n"] += 1
        return kclass_sharp(images)

    rng = np.random.default_rng(0)
    images = rng.integers(80, 170, size=(12, 32, 32, 3)).astype(np.uint8)
    gates = tmp_path / "gates.yaml"
    gates.write_text(text)
    with pytest.raises(UserError, match=message):
        harness.audit(model=model, data=(images, [NAMES[i % 3] for i in range(12)]),
                      class_names=NAMES, input_size=32, out=tmp_path / "run", cache=None,
                      perturbations=["blur"], severities=[1], gradcam="none", gates=str(gates),
                      quiet=True)
    assert calls["n"] == 0 and not (tmp_path / "run" / "results.json").exists()


def test_a_k_class_gate_on_a_binary_audit_stops_it_before_the_work(tmp_path):
    import harness

    calls = {"n": 0}

    def model(images):
        calls["n"] += 1
        return images.mean(axis=(1, 2, 3)) / 255.0

    rng = np.random.default_rng(0)
    images = rng.integers(80, 170, size=(12, 32, 32, 3)).astype(np.uint8)
    gates = tmp_path / "gates.yaml"
    gates.write_text("gates:\n  - {metric: weighted_f1, min: 0.5}\n")
    with pytest.raises(UserError, match="weighted_f1 is a K-class metric and this is a binary audit"):
        harness.audit(model=model, data=(images, ["a", "b"] * 6), class_names=["a", "b"],
                      input_size=32, out=tmp_path / "run", cache=None, perturbations=["blur"],
                      severities=[1], gradcam="none", gates=str(gates), quiet=True)
    assert calls["n"] == 0 and not (tmp_path / "run" / "results.json").exists()
