"""``harness.audit``, ``harness.compare`` and the Audit accessors check their arguments before any
work, as scikit-learn does: a bad value is a ValueError, a wrong type a TypeError, an unknown
keyword a TypeError with a did-you-mean; every message names the argument and what arrived.
Both are ``harness.errors.UserError`` (the command line's exit code 2). No model runs here."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import harness
from harness.errors import UserError

CALLABLE = "tests/callable_models.py:redness"
IMAGES = np.zeros((4, 8, 8, 3), dtype=np.uint8)
LABELS = ["eczema", "atopic_dermatitis", "eczema", "atopic_dermatitis"]

# (keyword arguments, expected error type, text the message must hold)
BAD_AUDIT = [
    ({"perturbation": ["blur"]}, TypeError, "did you mean 'perturbations'"),
    ({"severity": [1]}, TypeError, "did you mean 'severities'"),
    ({"perturbations": ["blurr"]}, ValueError, "did you mean 'blur'"),
    ({"perturbations": [3]}, TypeError, "perturbations"),
    ({"perturbations": ["blur", "nope"]}, ValueError, "'nope'"),
    ({"severities": [0, 3]}, ValueError, "severities"),
    ({"severities": [1.5]}, TypeError, "severities"),
    ({"severities": 9}, ValueError, "severities"),
    ({"gradcam": 0}, ValueError, "gradcam"),
    ({"gradcam": True}, TypeError, "gradcam"),
    ({"gradcam": 2.5}, TypeError, "gradcam"),
    ({"model": 42}, TypeError, "model"),
    ({"model": "nope/missing.keras"}, ValueError, "'nope/missing.keras'"),
    ({"data": "nope/missing"}, ValueError, "'nope/missing'"),
    ({"data": [IMAGES, LABELS]}, TypeError, "data"),
    ({"data": (IMAGES.astype(np.float32), LABELS)}, TypeError, "dtype float32"),
    ({"data": (IMAGES[..., :1], LABELS)}, ValueError, "(4, 8, 8, 1)"),
    ({"data": (IMAGES, LABELS[:3])}, ValueError, "3 labels for 4 images"),
    ({"data": (IMAGES, [0, 1, 0, 1])}, TypeError, "class-name strings"),
    ({"data": (IMAGES, "eczema")}, TypeError, "labels"),
    ({"data": (IMAGES, LABELS, [1, 2, 3, 4])}, TypeError, "DataFrame"),
    ({"extra": "fitzpatrick"}, ValueError, "extra"),
    ({"threshold": 1.5}, ValueError, "threshold"),
    ({"threshold": "0.5"}, TypeError, "threshold"),
    ({"class_names": "ab"}, TypeError, "class_names"),
    ({"class_names": ["a"]}, ValueError, "class_names"),
    ({"input_size": (0, 3)}, ValueError, "input_size"),
    ({"input_size": "32"}, TypeError, "input_size"),
    ({"preprocessing": "nope"}, ValueError, "preprocessing"),
    ({"n_boot": "10"}, TypeError, "n_boot"),
    ({"n_boot": -1}, ValueError, "n_boot"),
    ({"batch_size": 0}, ValueError, "batch-size"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": 1.5}, TypeError, "seed"),
    ({"cache": 3}, TypeError, "cache"),
    ({"quiet": "yes"}, TypeError, "quiet"),
    ({"out": 3}, TypeError, "out"),
    ({"gates": 3}, TypeError, "gates"),
    ({"label_groupings": "fitzpatrick"}, TypeError, "label_groupings"),
    ({"skin_tone_scheme": "nope"}, ValueError, "scheme"),
]


@pytest.mark.parametrize("kwargs,kind,text", BAD_AUDIT,
                         ids=[f"{i}-{next(iter(k))}" for i, (k, _, _) in enumerate(BAD_AUDIT)])
def test_a_bad_audit_argument_is_refused_up_front(kwargs, kind, text, dermnet_test, tmp_path):
    args = {"model": CALLABLE, "data": str(dermnet_test), "out": tmp_path / "run", "cache": None,
            "quiet": True, **kwargs}
    with pytest.raises(kind) as info:
        harness.audit(**args)
    assert isinstance(info.value, UserError)  # the CLI's exit code 2, never a traceback
    message = str(info.value)
    assert text in message and "\n" not in message
    assert not (tmp_path / "run" / "results.json").exists()  # nothing ran


def test_the_model_and_data_messages_say_what_arrived_and_what_to_do(dermnet_test):
    with pytest.raises(ValueError, match=r"^model: expected a model file .* got "
                                         r"'nope.keras', which does not exist; check the path$"):
        harness.audit(model="nope.keras", data=str(dermnet_test))
    with pytest.raises(TypeError, match=r"^harness.audit\(\) got an unexpected keyword argument "
                                        r"'n_boots'; did you mean 'n_boot'\?$"):
        harness.audit(model=CALLABLE, data=str(dermnet_test), n_boots=10)


def test_compare_checks_its_arguments(tmp_path):
    with pytest.raises(TypeError, match="did you mean 'n_boot'"):
        harness.compare("a", "b", nboot=3)
    with pytest.raises(TypeError, match="^b: expected an Audit"):
        harness.compare(str(tmp_path), 3)
    with pytest.raises(ValueError, match="^n_boot: expected a whole number of at least 1"):
        harness.compare(str(tmp_path), str(tmp_path), n_boot=0)
    with pytest.raises(TypeError, match="^gates: expected a gate file"):
        harness.compare(str(tmp_path), str(tmp_path), gates=3)
    with pytest.raises(ValueError, match="gate file not found"):
        harness.compare(str(tmp_path), str(tmp_path), gates=str(tmp_path / "g.yaml"))
    with pytest.raises(ValueError, match="no results.json here"):
        harness.compare(str(tmp_path), str(tmp_path))


def test_load_run_names_what_is_missing(tmp_path):
    with pytest.raises(ValueError, match="^run_dir: expected a run directory"):
        harness.load_run(tmp_path / "nope")
    with pytest.raises(ValueError, match="no results.json here"):
        harness.load_run(tmp_path)
    with pytest.raises(TypeError, match="^run_dir: expected a path"):
        harness.load_run(3)


def test_accessors_name_the_grouping_and_variant():
    from sample_run import make_sample_run
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        make_sample_run(tmp, n=120, n_boot=20, seed=1, thumbnails=False, gradcam=False,
                        gates=False)
        run = harness.load_run(tmp)
    with pytest.raises(ValueError, match=r"^grouping='nope': not a grouping of this audit; use "
                                         r"one of 'group'"):
        run.metrics("nope")
    with pytest.raises(ValueError, match=r"^variant='blur@9': not a variant"):
        run.metrics("group", "blur@9")
    with pytest.raises(TypeError, match="^gates: expected a gate file"):
        run.gates(3)
    with pytest.raises(ValueError, match=r"gates: gate #1"):
        run.gates([{"metric": "nope", "scope": "overall", "min": 0.5}])
    with pytest.raises(ValueError, match="^path=None: this audit was run with out=None"):
        run.run_dir = None
        run.report()


def test_import_harness_is_cheap_and_the_api_is_lazy():
    import subprocess

    code = ("import sys, harness\n"
            "assert 'harness.api' not in sys.modules and 'numpy' not in sys.modules\n"
            "assert callable(harness.audit) and callable(harness.compare)\n"
            "import harness.paired.runs\n"
            "assert callable(harness.compare) and harness.Comparison.__name__ == 'Comparison'\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
