"""``compare`` on real DermNet NZ photographs: two different plain-Python models
(``tests/callable_models.py``) audited on the same 108 test images, with the real blur kernels.

The run directories are assembled from the pieces (data loading, the perturbation kernels,
``audit_metrics``) the way ``harness run`` writes them. The grouping is a stand-in for the
skin-tone estimate: the photographs split at the median CIELAB L* into "lighter" and "darker".
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

sys.path.insert(0, str(Path(__file__).parent))

import callable_models  # noqa: E402
from gates_runs import write_run  # noqa: E402
from harness.paired.runs import compare_runs  # noqa: E402
from harness.metrics import bootstrap_indices  # noqa: E402

N_BOOT = 300


def logit_model(images):
    return 1.0 / (1.0 + np.exp(-callable_models.redness_logit(images)[:, 0]))


@pytest.fixture(scope="module")
def dermnet_pair(dermnet_test, tmp_path_factory):
    from harness.data.load import load_dataset
    from perturbations import apply, ladder

    ds = load_dataset(dermnet_test, size=(64, 64))
    L = np.array([cv2.cvtColor(im, cv2.COLOR_RGB2LAB)[..., 0].mean() for im in ds.images])
    groups = np.where(L >= np.median(L), "lighter", "darker")
    variants = ladder(["blur"], [1, 2])
    images = {"clean": ds.images} | {v.name: apply(v, ds.images, seed=0) for v in variants}
    y = (ds.labels == "eczema").astype(int)
    root = tmp_path_factory.mktemp("dermnet_compare")
    runs = {}
    for name, model in (("redness", callable_models.redness), ("redness_logit", logit_model)):
        p = {k: np.asarray(model(im), dtype=np.float64) for k, im in images.items()}
        threshold = float(np.median(p["clean"]))      # each model's own operating point
        runs[name] = write_run(root / name, files=ds.files, labels=ds.labels, y=y,
                               groups=groups, p=p, threshold=threshold, name=name,
                               fingerprint_override=ds.fingerprint, n_boot=N_BOOT,
                               group_order=["lighter", "darker"])
    comparison = compare_runs(runs["redness"], runs["redness_logit"], n_boot=N_BOOT, seed=0)
    return comparison, ds, y, groups


def test_two_models_on_dermnet_have_paired_deltas_and_mcnemar(dermnet_pair):
    comparison, ds, y, groups = dermnet_pair
    assert comparison["dataset"]["n_images"] == len(ds.files) == 108
    assert comparison["dataset"]["fingerprint"] == ds.fingerprint
    g = comparison["groupings"]["group"]
    pb, pc = callable_models.redness(ds.images), logit_model(ds.images)
    tb, tc = comparison["baseline"]["threshold"], comparison["candidate"]["threshold"]
    # point deltas = scikit-learn on the predictions
    e = g["deltas"]["overall"]["balanced_accuracy"]
    assert e["delta"] == pytest.approx(balanced_accuracy_score(y, pc >= tc)
                                       - balanced_accuracy_score(y, pb >= tb), abs=1e-12)
    # paired interval = a loop over the same resample indices
    idx = bootstrap_indices(groups, y, n_boot=N_BOOT, seed=0)
    loop = [balanced_accuracy_score(y[i], pc[i] >= tc) - balanced_accuracy_score(y[i], pb[i] >= tb)
            for i in idx]
    assert e["ci"] == pytest.approx(list(np.percentile(loop, [2.5, 97.5])), abs=1e-12)
    # McNemar on the paired predictions
    rb, rc = (pb >= tb) == y, (pc >= tc) == y
    m = g["mcnemar"]["overall"]
    assert (m["baseline_only_correct"], m["candidate_only_correct"]) == (
        int(np.sum(rb & ~rc)), int(np.sum(~rb & rc)))
    assert m["discordant"] > 0 and 0.0 < m["p_value"] <= 1.0
    for grp in ("lighter", "darker"):
        assert g["deltas"]["groups"][grp]["status"] == "ok"
        assert g["mcnemar"]["groups"][grp]["n"] == int(np.sum(groups == grp))
    # robustness deltas on the real blur kernel exist for both severities
    assert set(g["robustness"]) == {"blur@1", "blur@2"}
    assert g["robustness"]["blur@2"]["overall"]["flip_rate"]["ci"] is not None
    assert g["corruption_error"]["status"] == "ok"
