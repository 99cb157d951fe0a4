"""The ladder API: variants, keys, presets, seeds and the errors a user can cause."""
from __future__ import annotations

import json

import numpy as np
import pytest

from harness.errors import UserError
from perturbations import FAMILIES, Variant, families, image_seeds, ladder, load_preset, presets

CORE = ["brightness_down", "brightness_up", "contrast_down", "contrast_up", "redness", "blur"]


def test_clinical_preset_is_the_six_core_names_and_the_default():
    assert families() == CORE
    assert families("clinical") == CORE
    assert load_preset("clinical")["severities"] == [1, 2, 3, 4, 5]


def test_imagenet_c_preset_names_its_six_corruptions():
    names = families("imagenet-c")
    assert names == families("imagenet_c")
    assert names == ["imagenet_c_brightness", "imagenet_c_contrast", "imagenet_c_gaussian_blur",
                     "imagenet_c_defocus_blur", "imagenet_c_motion_blur", "imagenet_c_jpeg"]
    assert all("Hendrycks" in FAMILIES[n].credit for n in names)


def test_dermatology_protocol_presets_name_their_corruptions():
    sam_c, medmnist_c = families("sam-c"), families("medmnist-c")
    assert len(sam_c) == len(set(sam_c)) == 14 and len(medmnist_c) == len(set(medmnist_c)) == 15
    assert {"black_corners", "medmnist_c_text_overlay", "imagenet_c_zoom_blur",
            "imagenet_c_pixelate", "imagenet_c_elastic_transform"} <= set(sam_c)
    assert {"black_corners", "medmnist_c_pixelate", "medmnist_c_brightness_down",
            "medmnist_c_contrast_up", "medmnist_c_speckle_noise"} <= set(medmnist_c)
    assert load_preset("sam-c")["severities"] == load_preset("medmnist-c")["severities"] == [1, 2, 3, 4, 5]


def test_presets_and_all():
    assert presets() == ["clinical", "imagenet-c", "medmnist-c", "sam-c", "all"]
    assert families("all") == list(FAMILIES)


def test_a_preset_can_be_a_yaml_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nfamilies: [blur, noise]\nseverities: [1, 3]\n")
    assert load_preset(str(path)) == {"name": "mine", "description": "", "families": ["blur", "noise"],
                                 "severities": [1, 3]}
    bad = tmp_path / "bad.yaml"
    bad.write_text("families: [blur, sharpen]\n")
    with pytest.raises(UserError, match=r"bad.yaml: unknown perturbation\(s\) 'sharpen'"):
        load_preset(str(bad))
    with pytest.raises(UserError, match="not found"):
        load_preset(str(tmp_path / "missing.yaml"))


def test_unknown_preset_names_the_choices():
    with pytest.raises(UserError, match=r"unknown preset 'imagenet'; choose one of clinical, imagenet-c, medmnist-c, sam-c, all"):
        families("imagenet")


def test_ladder_is_family_major_and_deduplicated():
    lad = ladder(["blur", "redness", "blur"], [2, 1, 2])
    assert [v.name for v in lad] == ["blur@2", "blur@1", "redness@2", "redness@1"]


def test_ladder_expands_presets():
    lad = ladder(["clinical", "noise"], [1])
    assert [v.family for v in lad] == CORE + ["noise"]


def test_ladder_errors_name_the_option_and_the_choices():
    with pytest.raises(UserError, match=r"^--perturbations: unknown perturbation 'sharpen'; choose from "):
        ladder(["sharpen"], [1])
    with pytest.raises(UserError, match=r"^--severities: severities are whole numbers 0-5, got 6$"):
        ladder(["blur"], [6])
    with pytest.raises(UserError, match="got '2'"):
        ladder(["blur"], ["2"])
    assert ladder([], [1, 2]) == []


def test_variant_name_requested_and_key():
    v = Variant("blur", 3)
    assert v.name == "blur@3"
    assert v.requested == {"sigma_px": 1.5}
    assert v.key() == 'blur@3|v1|{"sigma_px":1.5}'
    r = Variant("redness", 5)
    assert r.requested == {"da": 12.0, "dL": -3.0, "feather_frac": 0.01}
    assert json.loads(r.key().split("|", 2)[2]) == r.requested
    assert Variant("redness", 0).key() == "clean" and Variant("redness", 0).requested == {}
    r.requested["da"] = 99.0                            # a copy: the table cannot be changed through it
    assert Variant("redness", 5).requested["da"] == 12.0


def test_every_key_is_distinct_and_every_requested_is_plain_json():
    keys = set()
    for name, spec in FAMILIES.items():
        for sev in spec.table:
            v = Variant(name, sev)
            keys.add(v.key())
            assert json.loads(json.dumps(v.requested)) == v.requested
            assert all(type(x) in (int, float, str, bool) for x in v.requested.values())
    assert len(keys) == sum(len(spec.table) for spec in FAMILIES.values())


def test_variant_flags():
    assert Variant("noise", 2).stochastic and not Variant("noise", 0).stochastic
    assert not Variant("blur", 2).stochastic
    assert Variant("redness", 1).uses_mask and not Variant("blur", 1).uses_mask
    assert Variant("blur", 1).measures == ("hf_loss",)
    assert Variant("brightness_up", 1).measures == ("dL", "da", "db", "dITA")


def test_variant_rejects_programming_errors():
    with pytest.raises(ValueError, match="unknown perturbation 'nope'"):
        Variant("nope", 1)
    with pytest.raises(ValueError, match="severity"):
        Variant("blur", 7)
    with pytest.raises(ValueError, match="severity"):
        Variant("blur", True)
    assert Variant("blur", np.int64(2)) == Variant("blur", 2)
    assert len({Variant("blur", 2), Variant("blur", 2)}) == 1


def test_image_seeds_are_independent_of_position_and_distinct():
    s = image_seeds(0, "noise", 3, ["a", "b", "c"])
    assert s.dtype == np.uint64 and len(set(s.tolist())) == 3
    assert image_seeds(0, "noise", 3, ["c"])[0] == s[2]
    assert image_seeds(1, "noise", 3, ["c"])[0] != s[2]
    assert image_seeds(0, "noise", 4, ["c"])[0] != s[2]
    assert image_seeds(0, "motion_blur", 3, ["c"])[0] != s[2]
    with pytest.raises(UserError, match="--seed"):
        image_seeds(-1, "noise", 3, ["a"])


def test_apply_never_touches_global_randomness():
    from perturbations import apply

    images = np.full((2, 32, 32, 3), 128, np.uint8)
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    apply(Variant("noise", 3), images, seed=4)
    apply(Variant("motion_blur", 3), images, seed=4)
    assert np.array_equal(np.random.get_state()[1], state)
    np.random.seed(999)                                  # and global seeding changes nothing
    a = apply(Variant("noise", 3), images, seed=4)
    np.random.seed(1)
    assert np.array_equal(a, apply(Variant("noise", 3), images, seed=4))


def test_apply_checks_its_inputs():
    from perturbations import apply

    with pytest.raises(ValueError, match=r"uint8 batch of shape \(N, H, W, 3\)"):
        apply(Variant("blur", 1), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="masks: expected shape"):
        apply(Variant("redness", 1), np.zeros((1, 4, 4, 3), np.uint8), masks=np.ones((1, 5, 5), bool))
    with pytest.raises(ValueError, match="image_ids: expected 1 ids"):
        apply(Variant("noise", 1), np.zeros((1, 4, 4, 3), np.uint8), image_ids=["a", "b"])
