"""Same data, recipe and seed: the same sidecar, byte for byte; another seed: another run."""
from __future__ import annotations

from pathlib import Path

from harness.train.run import train_model

from train_helpers import scratch, synthetic_root, trained


def test_same_seed_same_sidecar_bytes():
    first, _ = trained("baseline", seed=0)
    again = train_model(data=synthetic_root(), out=scratch() / "again" / "m.keras",
                        recipe="baseline", backbone_weights="none", seed=0, input_size=64,
                        folds=3)
    a = Path(first["sidecar"]).read_bytes()
    b = Path(again["sidecar"]).read_bytes()
    assert a == b
    # the numbers are the product of training, not constants: the final loss is recorded
    assert 0.0 < again["training"]["final_model"]["final_loss"] < 5.0


def test_another_seed_changes_folds_and_training():
    first, _ = trained("baseline", seed=0)
    other, _ = trained("baseline", seed=1)
    assert Path(first["sidecar"]).read_bytes() != Path(other["sidecar"]).read_bytes()
    # a different seed draws different weights, dropout and shuffling: a different loss
    assert (first["training"]["final_model"]["final_loss"]
            != other["training"]["final_model"]["final_loss"])
    # and different folds (held-out AUCs per fold differ)
    assert ([f["final_loss"] for f in first["validation"]["per_fold"]]
            != [f["final_loss"] for f in other["validation"]["per_fold"]])
