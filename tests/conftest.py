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
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
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
def dermnet_subset(dermnet_test, tmp_path_factory) -> Path:
    """The first 20 DermNet NZ test photographs of each class (sorted), copied to a session
    folder with the same ``{eczema,atopic_dermatitis}/`` layout: real images at a third of the
    cost, for tests that run a full-size model over them."""
    import shutil

    root = tmp_path_factory.mktemp("dermnet_subset")
    for klass in sorted(d for d in dermnet_test.iterdir() if d.is_dir()):
        (root / klass.name).mkdir()
        for f in sorted(klass.glob("*.jpg"))[:20]:
            shutil.copyfile(f, root / klass.name / f.name)
    return root


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


#: Fitzpatrick17k's three-way label, in the model's output order.
THREE_PARTITION = ["benign", "malignant", "non-neoplastic"]


@pytest.fixture(scope="session")
def three_class_fitzpatrick(fitzpatrick17k, backbone_weights, tmp_path_factory) -> dict:
    """A 3-class softmax model for Fitzpatrick17k's ``three_partition_label`` and a manifest to
    audit it on.

    Frozen MobileNetV2 (ImageNet weights from ../shared/data) at 64 px, its pooled features
    computed once for every third row of ``labels.csv`` (sorted by file), a multinomial logistic
    regression fitted on them (standardised; the scaling folded into the weights) and written into
    the model's Dense softmax layer; saved as ``.keras`` with a sidecar naming the three classes
    and no positive class. The next rows (1, 4, 7, ...) are the audit manifest
    (``path,label,fitzpatrick``, paths relative to ``data_root``).
    Returns ``{"model", "manifest", "data_root", "class_names"}``.
    """
    import json

    import keras
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from harness.data.load import load_dataset

    size = 64
    out = tmp_path_factory.mktemp("three_class")
    labels = pd.read_csv(fitzpatrick17k / "labels.csv").sort_values("file").reset_index(drop=True)
    table = pd.DataFrame({"path": labels["file"], "label": labels["three_partition_label"],
                          "fitzpatrick": labels["fitzpatrick"]})
    table.iloc[0::3].to_csv(out / "train.csv", index=False)
    table.iloc[1::3].to_csv(out / "audit.csv", index=False)
    train = load_dataset(out / "train.csv", size=(size, size), data_root=fitzpatrick17k)

    keras.utils.set_random_seed(0)
    backbone = keras.applications.MobileNetV2(input_shape=(size, size, 3), include_top=False,
                                              weights=None)
    backbone.load_weights(str(backbone_weights))
    backbone.trainable = False
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(backbone(x, training=False))
    head = keras.layers.Dense(len(THREE_PARTITION), activation="softmax", name="probs")
    model = keras.Model(inputs, head(pooled), name="three_partition")
    features = keras.Model(inputs, pooled).predict(train.images.astype("float32"), verbose=0,
                                                   batch_size=64)
    y = np.array([THREE_PARTITION.index(v) for v in train.labels])
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-6
    fit = LogisticRegression(C=0.1, class_weight="balanced", max_iter=500).fit(
        (features - mean) / std, y)
    w = fit.coef_.T / std[:, None]
    head.set_weights([w.astype("float32"), (fit.intercept_ - mean @ w).astype("float32")])
    path = out / "three_partition.keras"
    model.save(path)
    path.with_suffix(".json").write_text(json.dumps(
        {"class_names": THREE_PARTITION, "preprocessing": "none", "input_size": [size, size]}))
    return {"model": path, "manifest": out / "audit.csv", "data_root": fitzpatrick17k,
            "class_names": list(THREE_PARTITION)}


@pytest.fixture(scope="session")
def three_class_run(three_class_fitzpatrick, tmp_path_factory) -> "Path":
    """The 3-class model audited without a positive class on its manifest (grouped by the
    manifest's ``fitzpatrick`` column and the estimated skin tone): blur at severity 1, no
    Grad-CAM, no cache; the run directory."""
    import harness

    m = three_class_fitzpatrick
    out = tmp_path_factory.mktemp("three_class_run") / "run"
    harness.audit(model=m["model"], data=m["manifest"], data_root=m["data_root"], out=out,
                  perturbations=["blur"], severities=[1], gradcam="none", n_boot=200, seed=0,
                  cache=None, quiet=True)
    return out


def kclass_sharp(images):
    """Three classes from the mean R, G, B values: softmax of (mean - 128) / 6."""
    import numpy as np

    z = (images.astype(np.float64).mean(axis=(1, 2)) - 128.0) / 6.0
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def kclass_soft(images):
    """As ``kclass_sharp`` but less confident and biased towards the third class (a different
    model of the same images: its predictions differ on a share of them)."""
    import numpy as np

    z = (images.astype(np.float64).mean(axis=(1, 2)) + np.array([0.0, 0.0, 8.0]) - 128.0) / 10.0
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="session")
def kclass_runs(tmp_path_factory) -> dict:
    """Two small K-class runs of the same synthetic images (no TensorFlow): ``sharp`` and
    ``soft`` (``kclass_sharp`` / ``kclass_soft``), 3 classes tinted into the images, a
    ``fitzpatrick`` column of 3 groups, blur at severity 1. ``{"sharp": dir, "soft": dir,
    "class_names": [...]}``."""
    import numpy as np
    import pandas as pd

    import harness

    names = ["benign", "malignant", "non-neoplastic"]
    rng = np.random.default_rng(7)
    n = 180
    y = np.tile(np.arange(3), n // 3)
    images = rng.integers(90, 160, size=(n, 32, 32, 3)).astype(np.int16)
    tinted = rng.random(n) < 0.75
    images[tinted, :, :, y[tinted]] += 40
    images = images.clip(0, 255).astype(np.uint8)
    extra = pd.DataFrame({"fitzpatrick": np.repeat([1, 2, 3], n // 3)})
    labels = np.asarray(names)[y]
    out = {"class_names": names}
    root = tmp_path_factory.mktemp("kclass_runs")
    for key, fn in (("sharp", kclass_sharp), ("soft", kclass_soft)):
        harness.audit(model=fn, data=(images, labels, extra), class_names=names, input_size=32,
                      out=root / key, cache=None, perturbations=["blur"], severities=[1],
                      n_boot=200, gradcam="none", quiet=True)
        out[key] = root / key
    return out


#: A Python model (mean red / 255, no TensorFlow) with its sidecar beside the file.
REDNESS_MODEL = f"{REPO / 'tests' / 'callable_models.py'}:redness"


@pytest.fixture(scope="session")
def dermnet_small_run(dermnet_test, tmp_path_factory) -> Path:
    """``harness run`` of the ``redness`` callable on four DermNet NZ test photographs (two per
    class, copied into a temporary folder), ladder brightness_down and blur at severities 3 and 4;
    the run directory (its data folder is ``<run>/../data``)."""
    import shutil

    from harness import cli

    base = tmp_path_factory.mktemp("dermnet_small")
    for label in ("atopic_dermatitis", "eczema"):
        (base / "data" / label).mkdir(parents=True)
        for f in sorted((dermnet_test / label).glob("*.jpg"))[:2]:
            shutil.copyfile(f, base / "data" / label / f.name)
    code = cli.main(["run", "--model", REDNESS_MODEL, "--data", str(base / "data"),
                     "--out", str(base / "run"), "--perturbations", "brightness_down,blur",
                     "--severities", "3,4", "--gradcam", "none", "--cache", "none",
                     "--n-boot", "20", "--quiet"])
    assert code == 0
    return base / "run"


@pytest.fixture(scope="session")
def demo_story(tmp_path_factory):
    """``harness demo`` run once for the session, at a small size (240 training and 200 test
    images, 4 epochs, Grad-CAM on 40, 200 resamples): ``(out, exit code, what it printed)``.
    Slow: only ``slow`` tests use it."""
    import contextlib
    import io

    from harness.demo.story import run_demo

    out = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = run_demo(out=out, seed=0, cache_dir=None, quiet=True, n_train=240, n_test=200,
                        epochs=4, gradcam=40, n_boot=200)
    return out, code, printed.getvalue()
