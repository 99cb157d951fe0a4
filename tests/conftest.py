"""Shared fixtures.

Real data lives outside the repository, in ``../shared/data`` (see its SOURCES.md). Every test
reaches it through the ``shared_data`` fixture below; nothing from it is copied into the repo.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Libraries that write into the home folder or phone home on import: keep them quiet and local.
_SCRATCH = Path(tempfile.gettempdir()) / "dermatrace-test-home"
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("KERAS_HOME", str(_SCRATCH / "keras"))
os.environ.setdefault("MPLCONFIGDIR", str(_SCRATCH / "mpl"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

SHARED_DATA = Path(os.environ.get("DERMATRACE_SHARED_DATA", REPO.parent / "shared" / "data"))
BACKBONE_WEIGHTS = "weights/mobilenet_v2_1.0_224_no_top_imagenet.weights.h5"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the real third-party data (``../shared/data``); skips when it is absent."""
    if not (SHARED_DATA / "SOURCES.md").exists():
        pytest.skip(f"real data not found at {SHARED_DATA} (set DERMATRACE_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def dermnet_test(shared_data) -> Path:
    """DermNet NZ test split: ``test/{eczema,atopic_dermatitis}/*.jpg`` (108 images)."""
    return shared_data / "dermnetnz_eczema_ad" / "test"


@pytest.fixture(scope="session")
def fitzpatrick17k(shared_data) -> Path:
    """Fitzpatrick17k folder with ``labels.csv`` and ``images/``."""
    return shared_data / "skin_tone_labeled" / "fitzpatrick17k_train"


@pytest.fixture(scope="session")
def backbone_weights(shared_data) -> Path:
    return shared_data / BACKBONE_WEIGHTS


def build_nested_mobilenet(weights: Path | None, input_size: int = 224, seed: int = 0):
    """The original study's architecture: MobileNetV2 nested as a sub-model of a Functional model,
    preprocessing ([-1, 1] scaling) inside the graph, GAP, dropout 0.3, one sigmoid unit."""
    import keras

    keras.utils.set_random_seed(seed)
    backbone = keras.applications.MobileNetV2(
        input_shape=(input_size, input_size, 3), include_top=False, weights=None, alpha=1.0
    )
    if weights is not None:
        backbone.load_weights(str(weights))
    backbone.trainable = False
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")(inputs)
    x = backbone(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(0.3, name="dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="prob")(x)
    return keras.Model(inputs, outputs, name="eczemanet")


@pytest.fixture(scope="session")
def nested_mobilenet(backbone_weights, tmp_path_factory) -> Path:
    """A saved ``.keras`` model (MobileNetV2 nested, ImageNet weights from ../shared/data, an
    untrained seeded head) with its sidecar ``.json``; class 1 = ``eczema``."""
    import json

    out = tmp_path_factory.mktemp("models") / "nested_mobilenet.keras"
    model = build_nested_mobilenet(backbone_weights)
    model.save(out)
    out.with_suffix(".json").write_text(
        json.dumps(
            {
                "class_names": ["atopic_dermatitis", "eczema"],
                "positive_class": "eczema",
                "threshold": 0.5,
                "preprocessing": "none",
                "input_size": [224, 224],
            }
        )
    )
    return out


@pytest.fixture(scope="session")
def demo_story(tmp_path_factory):
    """``harness demo`` run once for the session, at a small size (240 training and 200 test
    images, 4 epochs): ``(out, exit code, what it printed)``. Slow: only ``slow`` tests use it."""
    import contextlib
    import io

    from harness.demo.story import run_demo

    out = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = run_demo(out=out, seed=0, cache_dir=None, quiet=True, n_train=240, n_test=200,
                        epochs=4)
    return out, code, printed.getvalue()
