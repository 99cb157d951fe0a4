"""Occlusion inside the audit, for models without gradients: a callable whose evidence is known
gets its saliency where that evidence is and drifts when it is blurred; the identity drifts
exactly 0; maps come back from the cache without calling the model; ``--gradcam auto`` budgets
occlusion's forward passes; and the report names the method from results.json."""
from __future__ import annotations

import numpy as np
import pytest

import callable_models
import harness
from harness.explain.occlusion import DEFAULT_GRID, Occlusion, explain_image, forward_batch
from harness.pipeline.gradcam import (OCCLUSION_AUTO_PASSES, auto_images, gradcam_selection)
from model_factories import dermnet_batch
from reports.views.gradcam import explainer_label

CLASSES = ["atopic_dermatitis", "eczema"]
SIZE = 64
N = 12


@pytest.fixture(scope="module")
def quadrant_audit(dermnet_test, tmp_path_factory):
    """The top-left-texture callable audited on 12 real DermNet NZ images at 64 px, blur at
    severity 3, every image explained; then again on the same cache."""
    root = tmp_path_factory.mktemp("occlusion-run")
    config = root / "audit.yaml"
    config.write_text("attention_regions:\n  top_left: [0.0, 0.0, 0.5, 0.5]\n")
    images = dermnet_batch(dermnet_test, size=SIZE, n=N)
    labels = [CLASSES[i % 2] for i in range(N)]
    options = dict(model=callable_models.texture_top_left, data=(images, labels),
                   class_names=CLASSES, preprocessing="none", input_size=SIZE,
                   perturbations=["blur"], severities=[3], gradcam="all", config=str(config),
                   n_boot=50, cache=str(root / "cache"), quiet=True)
    first = harness.audit(**options).results
    calls = callable_models.TEXTURE_CALLS["n"]
    second = harness.audit(**options).results
    return first, second, callable_models.TEXTURE_CALLS["n"] - calls


def test_saliency_lands_on_the_only_region_the_model_reads(quadrant_audit):
    g = quadrant_audit[0]["gradcam"]
    assert g["explainer"] == "occlusion" and g["layer"] is None
    assert g["method"] == f"occlusion-v1|grid={DEFAULT_GRID}|stride=|baseline=blur"
    assert g["occlusion"] == {"label": "occlusion (grid 7×7, blurred baseline)", "grid": [7, 7],
                              "baseline": "blur", "forward_passes_per_image": 50}
    share = g["attention"]["top_left"]
    assert share["n"] == N and g["attention"]["top_left_area"]["mean"] == 0.25
    # 7 patches do not split 64 px at the middle: the patch row and column across it leak a
    # part of the map (upsampled bilinearly) outside the quadrant
    assert share["p05"] > 0.75 and share["mean"] > 0.85  # the quadrant is 0.25 of the image


def test_identity_drifts_exactly_zero_and_blur_moves_the_map(quadrant_audit):
    g = quadrant_audit[0]["gradcam"]
    identity = g["noise_floor"]["identity"]["overall"]["all"]
    for metric, exact in (("spearman", 1.0), ("cosine", 1.0), ("ssim", 1.0), ("iou_top10", 1.0),
                          ("centroid_shift", 0.0)):
        assert identity[metric]["n"] == N and identity[metric]["n_undefined"] == 0
        assert identity[metric]["q25"] == identity[metric]["q75"] == exact, metric
    # blurring the quadrant moves its map further than the one-pixel shift of the noise floor
    blurred = g["drift"]["blur@3"]["overall"]["all"]
    shifted = g["noise_floor"]["shift_1px"]["overall"]["all"]
    for metric in ("spearman", "cosine", "ssim", "iou_top10", "iou_top20"):
        assert blurred[metric]["median"] < shifted[metric]["median"] < 1.0, metric
    assert blurred["centroid_shift"]["median"] > 3 * shifted["centroid_shift"]["median"] > 0


def test_a_second_audit_reads_every_map_from_the_cache(quadrant_audit):
    first, second, calls = quadrant_audit
    assert calls == 0  # neither predictions nor occlusion maps ran the model again
    assert second["gradcam"] == first["gradcam"]


def test_auto_budgets_occlusion_by_forward_passes():
    # the clinical ladder (30 variants): 33 maps of 50 passes per image
    assert auto_images(30, passes_per_map=50) == OCCLUSION_AUTO_PASSES // (50 * 33) == 12
    assert auto_images(30) == 129  # Grad-CAM's own budget is unchanged
    groups = np.array(["I"] * 60 + ["II"] * 36 + ["III"] * 12)
    sel = gradcam_selection("auto", groups, 30, 0, passes_per_map=50)
    assert len(sel) == 12 and set(groups[sel]) == {"I", "II", "III"}
    assert len(gradcam_selection("auto", groups, 30, 0)) == 108
    assert len(gradcam_selection("5", groups, 30, 0, passes_per_map=50)) == 5  # N is N
    # one map's 50 passes go in equal batches no larger than --batch-size
    assert [forward_batch(50, b) for b in (1, 25, 32, 49, 50, 64)] == [1, 25, 25, 25, 50, 50]


def test_one_image_entry_point_matches_the_explainer(dermnet_test):
    image = dermnet_batch(dermnet_test, size=SIZE, n=1)[0]
    one = explain_image(image, callable_models.texture_top_left)
    batch = Occlusion(callable_models.texture_top_left).heatmaps(image[None])
    assert one.shape == (7, 7) and one.dtype == np.float32
    np.testing.assert_array_equal(one, batch[0])
    # patches 0-2 lie inside the quadrant, patch 3 (27-37 px) straddles its edge, 4-6 lie outside
    assert (one[4:] == 0).all() and (one[:, 4:] == 0).all()
    assert one[:3, :3].sum() > one[:4, :4].sum() - one[:3, :3].sum() > 0
    with pytest.raises(ValueError, match="grid must be a positive int"):
        Occlusion(callable_models.texture_top_left, grid=0)
    with pytest.raises(ValueError, match="baseline must be one of blur, mean"):
        Occlusion(callable_models.texture_top_left, baseline="noise")


def test_the_report_names_the_method_from_the_results():
    assert explainer_label({"available": True, "method": "gradcam-v1|layer=x"}) == "Grad-CAM"
    assert explainer_label({"explainer": "gradcam"}) == "Grad-CAM"
    assert explainer_label({"explainer": "occlusion", "occlusion": {
        "label": "occlusion (grid 5×5, mean-colour baseline)"}}) == \
        "occlusion (grid 5×5, mean-colour baseline)"


def test_compare_refuses_drift_of_two_different_explainers():
    from harness.paired.sections import drift_deltas as _drift_deltas

    section = {"available": True, "drift": {"blur@3": {"metrics": {"cosine": "similarity"},
                                                       "overall": {"all": {}}}}}
    out = _drift_deltas(section, dict(section, explainer="occlusion"), ["blur@3"])
    assert out == {"available": False, "reason": "the baseline is explained by gradcam, the "
                   "candidate by occlusion: their drift is not comparable"}
    assert _drift_deltas(dict(section, explainer="occlusion"), dict(section, explainer="occlusion"),
                         ["blur@3"])["available"] is True


def test_a_k_class_model_is_explained_for_its_top_class(dermnet_test, tmp_path):
    """A 3-class callable that reads only the top-left quadrant: occlusion explains each image's
    clean top class, finds it there, and the identity still drifts exactly 0."""
    config = tmp_path / "audit.yaml"
    config.write_text("attention_regions:\n  top_left: [0.0, 0.0, 0.5, 0.5]\n")
    names = ["detail", "red", "blue"]
    images = dermnet_batch(dermnet_test, size=SIZE, n=N)
    audit = harness.audit(model=callable_models.texture_top_left_3,
                          data=(images, [names[i % 3] for i in range(N)]), class_names=names,
                          preprocessing="none", input_size=SIZE, perturbations=["blur"],
                          severities=[3], gradcam="all", config=str(config), n_boot=50, cache=None,
                          quiet=True)
    g = audit.results["gradcam"]
    assert audit.results["model"]["kclass"] is True
    assert g["explainer"] == "occlusion" and g["class_explained"] == "the top class of each clean image"
    assert g["attention"]["top_left"]["n"] == N and g["attention"]["top_left"]["mean"] > 0.85
    identity = g["noise_floor"]["identity"]["overall"]["all"]
    assert identity["cosine"]["q25"] == identity["cosine"]["q75"] == 1.0
    assert identity["centroid_shift"]["q75"] == 0.0


def test_the_summary_names_occlusion_in_what_we_found(quadrant_audit):
    from reports.views.found import what_we_found

    lines = {line["key"]: line for line in what_we_found(quadrant_audit[0])}
    assert lines["gradcam"]["label"] == "Occlusion"
    assert "blur@3" in lines["gradcam"]["text"]
