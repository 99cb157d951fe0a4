"""The prediction cache: content keys, atomic segments, resume after interruption, corrupt
entries recomputed, and fully cached runs that never import TensorFlow."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import harness.cache as cache_mod
from harness.cache import MAX_SEGMENTS, ArrayCache
from harness.models.predict import predict_cached
from harness.models.open import open_model
from model_factories import TINY, dermnet_batch, tiny_convnet, write_sidecar

REPO = Path(__file__).resolve().parents[1]
CALLABLES = Path(__file__).resolve().parent / "callable_models.py"
N = 20


@pytest.fixture(scope="module")
def images(dermnet_test):
    return dermnet_batch(dermnet_test, size=TINY, n=N)


@pytest.fixture(scope="module")
def keys(images):
    import hashlib

    return [hashlib.sha256(im.tobytes()).hexdigest() + f":{TINY}x{TINY}" for im in images]


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cache_model") / "tiny.keras"
    tiny_convnet(seed=5).save(path)
    write_sidecar(path, class_names=["atopic_dermatitis", "eczema"], positive_class="eczema",
                  threshold=0.5, preprocessing="none", input_size=[TINY, TINY])
    return path


def _segments(root: Path) -> list[Path]:
    return sorted(root.rglob("*.seg"))


class Counter:
    """Wraps a LoadedModel's predict_proba: counts calls and images, can fail after k calls."""

    def __init__(self, model, fail_after: int | None = None):
        self.model, self.real = model, model.predict_proba
        self.calls = self.images = 0
        self.fail_after = fail_after
        model.predict_proba = self

    def __call__(self, images, *, batch_size=32):
        if self.fail_after is not None and self.calls == self.fail_after:
            raise KeyboardInterrupt
        self.calls += 1
        self.images += len(images)
        return self.real(images, batch_size=batch_size)


# -- ArrayCache ------------------------------------------------------------------------------------

def test_round_trip_dtypes_shapes_and_namespaces(tmp_path):
    cache = ArrayCache(tmp_path)
    items = {
        "a": np.float64(0.25),
        "b": np.arange(49, dtype=np.float32).reshape(7, 7),
        "c": np.array("logits_softmax"),
        "d": np.zeros((0, 3), np.int16),
    }
    cache.put_many("m/clean", items)
    got = cache.get_many("m/clean", ["a", "b", "c", "d", "missing"])
    assert set(got) == {"a", "b", "c", "d"}
    for k, v in items.items():
        assert got[k].dtype == np.asarray(v).dtype and got[k].shape == np.asarray(v).shape
        np.testing.assert_array_equal(got[k], v)
    assert cache.get_many("m/blur@3", ["a"]) == {}  # namespaces do not mix
    assert len(_segments(tmp_path)) == 1


def test_disabled_cache_stores_nothing(tmp_path):
    cache = ArrayCache(None)
    cache.put_many("ns", {"a": np.float64(1.0)})
    assert cache.get_many("ns", ["a"]) == {} and not cache.enabled


def test_corrupt_or_truncated_segment_is_a_miss_and_is_removed(tmp_path):
    cache = ArrayCache(tmp_path)
    cache.put_many("ns", {"a": np.float64(1.0)})
    cache.put_many("ns", {"b": np.float64(2.0)})
    first, second = _segments(tmp_path)
    data = bytearray(first.read_bytes())
    data[-40] ^= 0xFF
    first.write_bytes(bytes(data))
    second.write_bytes(second.read_bytes()[:20])
    assert cache.get_many("ns", ["a", "b"]) == {}
    assert _segments(tmp_path) == []


def test_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch):
    cache = ArrayCache(tmp_path)
    cache.put_many("ns", {"a": np.float64(1.0)})

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_mod.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.put_many("ns", {"b": np.float64(2.0)})
    folder = cache.namespace_dir("ns")
    assert sorted(p.name for p in folder.iterdir()) == [_segments(tmp_path)[0].name]
    assert set(cache.get_many("ns", ["a", "b"])) == {"a"}


def test_many_segments_are_merged(tmp_path):
    cache = ArrayCache(tmp_path)
    for i in range(MAX_SEGMENTS + 1):
        cache.put_many("ns", {f"k{i}": np.float64(i)})
    assert len(_segments(tmp_path)) == 1
    got = cache.get_many("ns", [f"k{i}" for i in range(MAX_SEGMENTS + 1)])
    assert {k: float(v) for k, v in got.items()} == {f"k{i}": float(i) for i in range(MAX_SEGMENTS + 1)}


def test_unwritable_cache_is_a_user_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    from harness.errors import UserError

    with pytest.raises(UserError, match="cannot write the prediction cache"):
        ArrayCache(blocker).put_many("ns", {"a": np.float64(1.0)})


# -- predict_cached ----------------------------------------------------------------------------------

def test_second_call_runs_the_model_zero_times(tmp_path, images, keys, capsys):
    model = open_model(f"{CALLABLES}:redness",
                       spec_path=str(write_sidecar(tmp_path / "r.py", class_names=["a", "b"],
                                                   input_size=[TINY, TINY])))
    count = Counter(model)
    cache = ArrayCache(tmp_path / "cache")
    first = predict_cached(model, images, image_keys=keys, variant="clean", cache=cache, batch_size=8)
    np.testing.assert_allclose(first, images[..., 0].mean(axis=(1, 2)) / 255.0, atol=1e-12)
    assert (count.calls, count.images) == (3, N)
    assert capsys.readouterr().err == ""  # progress=False: silent

    def never():
        raise AssertionError("images were produced although every prediction is cached")

    again = predict_cached(model, never, image_keys=keys, variant="clean", cache=cache, batch_size=8)
    assert count.calls == 3 and np.array_equal(again, first)
    # another variant, or other sidecar settings, are other entries
    predict_cached(model, images, image_keys=keys, variant="blur@1", cache=cache, batch_size=8)
    assert count.calls == 6


def test_interrupted_run_resumes_with_only_missing_images(tmp_path, tiny_path, images, keys):
    reference = open_model(str(tiny_path)).predict_proba(images, batch_size=4)
    cache = ArrayCache(tmp_path / "cache")
    model = open_model(str(tiny_path))
    Counter(model, fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        predict_cached(model, images, image_keys=keys, variant="clean", cache=cache, batch_size=4)
    model = open_model(str(tiny_path))
    count = Counter(model)
    made = []

    def lazy():
        made.append(1)
        return images

    resumed = predict_cached(model, lazy, image_keys=keys, variant="clean", cache=cache,
                             batch_size=4)
    assert count.images == N - 2 * 4 and count.calls == 3 and made == [1]
    np.testing.assert_allclose(resumed, reference, rtol=0, atol=1e-6)


def test_corrupt_cache_is_recomputed(tmp_path, images, keys):
    side = write_sidecar(tmp_path / "r.py", class_names=["a", "b"], input_size=[TINY, TINY])
    model = open_model(f"{CALLABLES}:redness", spec_path=str(side))
    cache = ArrayCache(tmp_path / "cache")
    first = predict_cached(model, images, image_keys=keys, variant="clean", cache=cache, batch_size=8)
    for seg in _segments(tmp_path / "cache"):
        seg.write_bytes(seg.read_bytes()[:-1] + b"\x00")
    count = Counter(model)
    again = predict_cached(model, images, image_keys=keys, variant="clean", cache=cache, batch_size=8)
    assert count.images == N and np.array_equal(again, first)


@pytest.mark.parametrize("sidecar", ["complete", "none"])
def test_fully_cached_run_never_imports_tensorflow(tmp_path, tiny_path, images, keys, sidecar):
    """A complete sidecar needs nothing from the model; without one, the input size and output
    width read from the model on the first run are kept in the cache by model hash."""
    if sidecar == "none":
        bare = tmp_path / "bare.keras"
        bare.write_bytes(tiny_path.read_bytes())
        path, labels = bare, ["eczema", "atopic_dermatitis"]
    else:
        path, labels = tiny_path, None
    cache_dir = tmp_path / "cache"
    model = open_model(str(path), dataset_labels=labels, cache=ArrayCache(cache_dir))
    expected = predict_cached(model, images, image_keys=keys, variant="clean",
                              cache=ArrayCache(cache_dir), batch_size=8)
    assert model.output_kind == "sigmoid"
    assert model.spec.class_names == ["atopic_dermatitis", "eczema"]
    np.save(tmp_path / "images.npy", images)
    (tmp_path / "keys.json").write_text(json.dumps(keys))
    script = f"""
import json, sys
import numpy as np
from harness.cache import ArrayCache
from harness.models.predict import predict_cached
from harness.models.open import open_model
cache = ArrayCache({str(cache_dir)!r})
model = open_model({str(path)!r}, dataset_labels={labels!r}, cache=cache)
p = predict_cached(model, lambda: np.load({str(tmp_path / 'images.npy')!r}),
                   image_keys=json.load(open({str(tmp_path / 'keys.json')!r})), variant="clean",
                   cache=cache, batch_size=8)
np.save({str(tmp_path / 'p.npy')!r}, p)
print(json.dumps({{"tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules,
                  "output_kind": model.output_kind, "spec": model.spec.to_json()}}))
"""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report == {"tensorflow": False, "keras": False, "output_kind": "sigmoid",
                      "spec": model.spec.to_json()}
    assert np.array_equal(np.load(tmp_path / "p.npy"), expected)


def test_provisional_open_does_not_load_the_model(tmp_path, tiny_path, images):
    bare = tmp_path / "bare.keras"
    bare.write_bytes(tiny_path.read_bytes())
    write_sidecar(bare, input_size=[TINY, TINY])
    provisional = open_model(str(bare))
    assert provisional.spec.extra["needs_dataset_labels"] and provisional.n_outputs is None
    with pytest.raises(ValueError, match="dataset_labels"):
        provisional.predict_proba(images)
    model = open_model(str(bare), dataset_labels=["b", "a"])
    assert model.n_outputs == 1 and model.spec.class_names == ["a", "b"]


def test_progress_bar_only_when_asked(tmp_path, images, keys, capsys):
    side = write_sidecar(tmp_path / "r.py", class_names=["a", "b"], input_size=[TINY, TINY])
    model = open_model(f"{CALLABLES}:redness", spec_path=str(side))
    predict_cached(model, images, image_keys=keys, variant="clean", cache=ArrayCache(None),
                   batch_size=8, progress=True)
    assert "predict clean" in capsys.readouterr().err
