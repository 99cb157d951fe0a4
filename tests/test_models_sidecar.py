"""Sidecar validation and inference, model location and hashing: none of it needs TensorFlow."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from harness.errors import UserError
from harness.models.open import model_hash, open_model
from harness.models.sidecar import PREPROCESSING, read_sidecar, resolve_spec

HERE = Path(__file__).resolve().parent
CALLABLES = HERE / "callable_models.py"
GOOD = {
    "class_names": ["atopic_dermatitis", "eczema"],
    "positive_class": "eczema",
    "threshold": 0.4,
    "preprocessing": "mobilenet_v2",
    "input_size": [64, 48],
}


def _write(tmp_path: Path, obj, name: str = "M.json") -> Path:
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def _one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("positive_class", "psoriasis", "positive_class 'psoriasis' is not one of class_names"),
        ("threshold", 1.5, "threshold must be a number strictly between 0 and 1 (got 1.5)"),
        ("threshold", 0, "threshold must be a number strictly between 0 and 1 (got 0)"),
        ("threshold", True, "threshold must be a number strictly between 0 and 1 (got True)"),
        ("threshold", "0.5", "threshold must be a number strictly between 0 and 1 (got '0.5')"),
        ("preprocessing", "caffe", "preprocessing 'caffe' is unknown; use one of "
         + ", ".join(PREPROCESSING)),
        ("input_size", [224], "input_size must be [width, height] in pixels (got [224])"),
        ("input_size", [224, 0], "input_size must be [width, height]"),
        ("class_names", ["eczema"], "class_names must be a list of at least 2 distinct"),
        ("class_names", ["a", "a"], "class_names must be a list of at least 2 distinct"),
        ("output", "maybe", "output 'maybe' is unknown; use one of probabilities, logits"),
    ],
)
def test_sidecar_field_errors_are_one_line_naming_file_and_field(tmp_path, field, value, fragment):
    path = _write(tmp_path, {**GOOD, field: value})
    with pytest.raises(UserError) as excinfo:
        read_sidecar(path)
    message = _one_line_error(excinfo)
    assert message.startswith(f"{path}: "), message
    assert field in message and fragment in message, message


def test_sidecar_not_json_or_not_object(tmp_path):
    with pytest.raises(UserError) as excinfo:
        read_sidecar(_write(tmp_path, '{"class_names": ["a", "b"],}'))
    assert "not valid JSON" in _one_line_error(excinfo) and "line 1" in str(excinfo.value)
    with pytest.raises(UserError) as excinfo:
        read_sidecar(_write(tmp_path, [1, 2], name="L.json"))
    assert "expected a JSON object" in _one_line_error(excinfo)


def test_valid_sidecar_keeps_unknown_keys_as_extra(tmp_path):
    fields = read_sidecar(_write(tmp_path, {**GOOD, "recipe": "baseline", "validation": {"f1": 0.7}}))
    assert fields["input_size"] == (64, 48)
    assert fields["threshold"] == 0.4
    assert fields["extra"] == {"recipe": "baseline", "validation": {"f1": 0.7}}


def _resolve(fields, **kw):
    args = dict(sidecar=None, looked_for=[Path("/models/M.json")], model_name="M.keras",
                n_outputs=1, model_input_size=(96, 80), dataset_labels=None, positive_class=None)
    args.update(kw)
    return resolve_spec({"extra": {}, **fields}, **args)


def test_missing_fields_inferred_from_model_and_dataset_labels():
    labels = ["eczema", "atopic_dermatitis", "eczema", "atopic_dermatitis"]
    spec = _resolve({}, dataset_labels=labels)
    assert spec.class_names == ["atopic_dermatitis", "eczema"]  # sorted, as Keras' loader
    assert spec.positive_class == "eczema"                      # the second: sigmoid = P(class 1)
    assert spec.threshold == 0.5 and spec.preprocessing == "none"
    assert spec.input_size == (96, 80)
    assert spec.extra["inferred"] == sorted(
        ["class_names", "input_size", "positive_class", "preprocessing", "threshold"]
    )
    given = _resolve({"threshold": 0.3, "class_names": ["x", "y"]}, dataset_labels=labels)
    assert given.class_names == ["x", "y"] and given.threshold == 0.3
    assert given.extra["inferred"] == ["input_size", "positive_class", "preprocessing"]


def test_class_names_not_inferable_names_the_field_to_write():
    with pytest.raises(UserError) as excinfo:
        _resolve({}, n_outputs=3, dataset_labels=["a", "b"])
    message = _one_line_error(excinfo)
    assert 'write "class_names" in /models/M.json' in message
    assert "3 output(s)" in message and "2 label(s)" in message


def test_k_class_model_without_a_positive_class_is_audited_as_k_classes():
    spec = _resolve({}, n_outputs=3, dataset_labels=["c", "a", "b"])
    assert spec.class_names == ["a", "b", "c"] and spec.positive_class is None
    assert "positive_class" not in spec.extra["inferred"]
    spec = _resolve({}, n_outputs=3, dataset_labels=["c", "a", "b"], positive_class="b")
    assert spec.class_names == ["a", "b", "c"] and spec.positive_class == "b"
    with pytest.raises(UserError) as excinfo:
        _resolve({}, n_outputs=3, dataset_labels=["c", "a", "b"], positive_class="d")
    assert _one_line_error(excinfo).startswith("--positive-class: 'd' is not one of")


def test_input_size_not_inferable_and_mismatch():
    with pytest.raises(UserError) as excinfo:
        _resolve({"class_names": ["a", "b"]}, model_input_size=None)
    assert 'write "input_size" in /models/M.json' in _one_line_error(excinfo)
    with pytest.raises(UserError) as excinfo:
        _resolve({"class_names": ["a", "b"], "input_size": (64, 64)}, model_input_size=(96, 80))
    assert "does not match the model's input [96, 80]" in _one_line_error(excinfo)


def test_provisional_spec_when_labels_are_not_known_yet():
    spec = _resolve({"threshold": 0.3})
    assert spec.extra["needs_dataset_labels"] is True
    assert spec.class_names == [] and spec.input_size == (96, 80) and spec.threshold == 0.3


def test_open_callable_reads_sidecar_beside_the_module_without_loading_it():
    model = open_model(f"{CALLABLES}:redness")
    assert model.format == "callable" and not model.supports_gradients
    assert model.spec.class_names == ["atopic_dermatitis", "eczema"]
    assert model.spec.input_size == (224, 224) and model.spec.extra["inferred"] == []
    assert model.spec.extra["sidecar"] == str(HERE / "callable_models.json")
    assert model.output_kind is None  # decided on the first batch
    images = np.random.default_rng(0).integers(0, 256, (5, 224, 224, 3), dtype=np.uint8)
    p = model.predict_proba(images, batch_size=2)
    assert p.dtype == np.float64 and p.shape == (5,)
    np.testing.assert_allclose(p, images[..., 0].mean(axis=(1, 2)) / 255.0, rtol=0, atol=1e-12)
    assert model.output_kind == "sigmoid"


def test_callable_without_input_size_asks_for_it(tmp_path):
    side = _write(tmp_path, {"class_names": ["a", "b"]})
    with pytest.raises(UserError) as excinfo:
        open_model(f"{CALLABLES}:redness", spec_path=str(side))
    message = _one_line_error(excinfo)
    assert f'write "input_size" in {side}' in message


def test_missing_or_unknown_model_is_one_line_user_error(tmp_path):
    with pytest.raises(UserError) as excinfo:
        open_model(str(tmp_path / "nope.keras"))
    assert _one_line_error(excinfo).startswith(f"{tmp_path / 'nope.keras'}: model not found")
    odd = tmp_path / "model.bin"
    odd.write_bytes(b"0123456789")
    with pytest.raises(UserError) as excinfo:
        open_model(str(odd))
    assert "unknown model format" in _one_line_error(excinfo)
    with pytest.raises(UserError) as excinfo:
        open_model(f"{CALLABLES}:no_such_function", spec_path=str(HERE / "callable_models.json")
                   ).predict_proba(np.zeros((1, 224, 224, 3), np.uint8))
    assert "has no function 'no_such_function'" in _one_line_error(excinfo)


def test_model_hash_is_content_hash(tmp_path):
    blob = bytes(range(256)) * 4000
    f = tmp_path / "M.keras"
    f.write_bytes(blob)
    assert model_hash(str(f)) == hashlib.sha256(blob).hexdigest()

    folder = tmp_path / "saved"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"graph")
    (folder / "variables" / "v.data").write_bytes(b"weights")
    first = model_hash(str(folder))
    (folder / "variables" / "v.data").write_bytes(b"weightz")
    changed = model_hash(str(folder))
    (folder / "variables" / "v.data").rename(folder / "variables" / "w.data")
    renamed = model_hash(str(folder))
    assert len({first, changed, renamed}) == 3

    a, b = model_hash(f"{CALLABLES}:redness"), model_hash(f"{CALLABLES}:channel_softmax")
    assert a != b and model_hash("callable_models:redness") == a  # module form, same source


def test_complete_sidecar_opens_without_loading_and_bad_file_fails_on_use(tmp_path):
    bad = tmp_path / "M.keras"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    _write(tmp_path, GOOD)
    model = open_model(str(bad))  # nothing to infer: the file is not read beyond its hash
    assert model.spec.preprocessing == "mobilenet_v2" and model.spec.input_size == (64, 48)
    with pytest.raises(UserError) as excinfo:
        model.predict_proba(np.zeros((1, 48, 64, 3), np.uint8))
    assert _one_line_error(excinfo).startswith(f"{bad}: not a valid .keras archive")
