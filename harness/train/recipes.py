"""Train the DermaTrace classifier: MobileNetV2 in the EczemaNet tradition, without leaks.

The saved model (``M.keras``) is one Functional Keras model that takes RGB 0..255 at its input
size and gives P(positive class)::

    image (S, S, 3) -> Rescaling(1/127.5, offset=-1) "preprocess"
                    -> MobileNetV2 1.0 without top, nested as one layer (inference mode)
                    -> GlobalAveragePooling2D "pool" -> Dropout(0.3) "dropout"
                    -> Dense(1, sigmoid) "prob"

Only built-in layers, so it loads with ``keras.saving.load_model(path)`` in safe mode. Beside it,
``M.json`` (the sidecar, :mod:`harness.models.sidecar`) says what the output means, the decision
threshold, and how the model was made (recipe, data fingerprint, validation, seed, backbone
weights and their sha256), so that ``harness run --model M.keras`` needs nothing more.

Recipes (:data:`RECIPES`)
-------------------------
``baseline``
    The original study's head on a frozen ImageNet backbone: dropout 0.3, one sigmoid unit,
    Adam 1e-4, batch 32, 10 epochs, 224 px.
``class-weighted``
    ``baseline`` with balanced class weights (``n / (2 n_c)``).
``finetune``
    Linear probe then fine-tune: the head starts from ``linear-head``'s solution on the frozen
    features, then the top of the backbone (from ``block_13`` on; BatchNormalization layers stay
    frozen) is trained with the head at Adam 1e-5 under light augmentation (flips, rotation
    within +-18 degrees, contrast +-0.1, zoom +-10%; built-in Keras layers active only in training
    and not part of the saved model), with early stopping on a seeded, stratified validation
    split (``val_fraction``) of the training images: the epoch with the lowest validation loss is
    kept (patience 3).
``linear-head``
    L2-regularised logistic regression on the standardised pooled features of a frozen backbone,
    at 384 px, with C chosen from a grid by stratified cross-validation (ROC AUC) within the
    training images; standardisation and coefficients are folded into the Dense layer's kernel
    and bias, so the saved model is the same architecture as every other recipe.

Frozen recipes train their head on cached backbone features (:mod:`harness.train.features`): the
forward pass is paid once per image and input size, and a head epoch takes milliseconds.

``backbone_weights="none"`` gives a randomly initialised backbone whose BatchNormalization
statistics are then set from (at most 64 of) the training images
(:func:`harness.train.backbone.calibrate_batchnorm`); without that, Keras' random MobileNetV2 outputs
features of about 1e-12 and every frozen recipe would learn a constant. The calibration sees
the images (never their labels) of every fold, so with random weights the out-of-fold numbers
are transductive; ImageNet weights involve no such step. Random features are fast
and structurally complete (tests, the synthetic demo) but carry little about lesions: use the
ImageNet weights for a useful classifier.

Validation and the threshold
----------------------------
Everything is decided on the training images; a ``test/`` folder beside ``train/`` is never
opened. The decision threshold is chosen by macro-F1 over the original sweep 0.05, 0.10, ...,
0.95 on **out-of-fold** predictions: stratified k-fold cross-validation (``folds``, default 5,
seeded) in which each fold's model is trained by the same recipe on the other folds. The sidecar's
``validation`` holds the threshold and, at it, the out-of-fold ROC AUC, accuracy, macro-F1,
sensitivity and specificity with their n. Those threshold-dependent numbers are scored on the
predictions that chose the threshold, so they are a little optimistic; ``at_fold_thresholds``
scores each fold at the threshold chosen on the other folds instead (:func:`fold_threshold_metrics`),
the number to quote. The saved model itself is trained on all the training
images (``finetune`` keeps its validation split for early stopping).

Determinism: ``keras.utils.set_random_seed(seed)`` before every fit and
``tf.config.experimental.enable_op_determinism()``; splits and folds use ``seed``. The same data,
recipe, options and seed give the same sidecar, byte for byte, on the same machine and versions.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from harness.train.backbone import (
    BackboneWeights,
    build_backbone,
    calibrate_batchnorm,
    resolve_backbone_weights,
)
from harness.cache import ArrayCache
from harness.errors import UserError
from harness.results.io import jsonable
from harness.train.features import pooled_features

__all__ = [
    "RECIPES",
    "Recipe",
    "THRESHOLDS",
    "choose_threshold",
    "fold_threshold_metrics",
    "training_folder",
    "train_model",
]

#: The original study's threshold sweep.
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))
#: Regularisation strengths tried for the logistic head (inverse L2 penalty on standardised
#: features).
LOGISTIC_C = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
SIDECAR_VERSION = 1
#: Stand-in weights for building a backbone whose weights are then set from memory.
RANDOM = BackboneWeights(option="none", path=None, source="random", sha256=None)


@dataclass(frozen=True)
class Recipe:
    """How one recipe trains (see the module docstring)."""

    name: str
    head: str  # "dense": Keras head trained by Adam; "logistic": logistic regression
    input_size: int  # default square input size
    class_weighted: bool = False
    finetune: bool = False
    epochs: int | None = None  # dense head / fine-tuning epochs (a maximum when early stopping)
    learning_rate: float | None = None
    batch_size: int = 32
    unfreeze_from: str | None = None  # first backbone layer trained when fine-tuning
    augment: bool = False
    patience: int | None = None  # early stopping on validation loss
    dropout: float = 0.3
    architecture: str = "mobilenet_v2"  # or "small_cnn" (trained from scratch; harness.train.small_cnn)


RECIPES: dict[str, Recipe] = {
    "baseline": Recipe("baseline", head="dense", input_size=224, epochs=10,
                       learning_rate=1e-4),
    "class-weighted": Recipe("class-weighted", head="dense", input_size=224, epochs=10,
                             learning_rate=1e-4, class_weighted=True),
    "finetune": Recipe("finetune", head="dense", input_size=224, finetune=True, epochs=20,
                       learning_rate=1e-5, batch_size=16, unfreeze_from="block_13_expand",
                       augment=True, patience=3),
    "linear-head": Recipe("linear-head", head="logistic", input_size=384),
    # A small net trained from scratch, for data no pretrained backbone knows (the synthetic demo).
    "small-cnn": Recipe("small-cnn", head="cnn", input_size=64, epochs=12, learning_rate=2e-3,
                        architecture="small_cnn"),
    "small-cnn-weighted": Recipe("small-cnn-weighted", head="cnn", input_size=64, epochs=12,
                                 learning_rate=2e-3, class_weighted=True,
                                 architecture="small_cnn"),
}


# --- small pure helpers ---------------------------------------------------------------------


def training_folder(data: Path) -> Path:
    """The folder or manifest to train on: ``data/train`` when ``data`` has one, else ``data``.

    A ``test/`` (or any other) folder beside ``train/`` is never looked into.
    """
    data = Path(data)
    if (data / "train").is_dir():
        return data / "train"
    return data


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


def _macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Macro-F1 over the two classes (an empty class's F1 counts as 0, as scikit-learn does)."""
    out = []
    for cls in (0, 1):
        tp = float(np.sum((pred == cls) & (y == cls)))
        fp = float(np.sum((pred == cls) & (y != cls)))
        fn = float(np.sum((pred != cls) & (y == cls)))
        out.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(out))


def choose_threshold(y: np.ndarray, p: np.ndarray,
                     thresholds: Sequence[float] = THRESHOLDS) -> tuple[float, list[dict]]:
    """The threshold of the sweep with the highest macro-F1 (``p >= t`` is positive).

    Ties go to the threshold closest to 0.5, then the lower one. Returns the threshold and the
    sweep as ``[{"threshold": t, "macro_f1": f}, ...]``.
    """
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    sweep = [{"threshold": float(t), "macro_f1": _macro_f1(y, (p >= t).astype(int))}
             for t in thresholds]
    best = max(sweep, key=lambda r: (round(r["macro_f1"], 12), -abs(r["threshold"] - 0.5),
                                     -r["threshold"]))
    return best["threshold"], sweep


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, p))


def _decision_metrics(y: np.ndarray, pred: np.ndarray) -> dict:
    """Accuracy, macro-F1, sensitivity and specificity of 0/1 decisions."""
    pos, neg = y == 1, y == 0
    return {
        "accuracy": float(np.mean(pred == y)),
        "macro_f1": _macro_f1(y, pred),
        "sensitivity": float(np.mean(pred[pos] == 1)) if pos.any() else None,
        "specificity": float(np.mean(pred[neg] == 0)) if neg.any() else None,
    }


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    """ROC AUC, accuracy, macro-F1, sensitivity and specificity at ``threshold``, with n."""
    y = np.asarray(y).astype(int)
    pred = (np.asarray(p) >= threshold).astype(int)
    return {"n": int(len(y)), "n_positive": int(np.sum(y == 1)),
            "n_negative": int(np.sum(y == 0)), "auc": _auc(y, p), **_decision_metrics(y, pred)}


def fold_threshold_metrics(y: np.ndarray, oof: np.ndarray,
                           splits: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Threshold-dependent metrics with no threshold chosen on the images it scores.

    The threshold chosen on all out-of-fold predictions is, for the metrics at it, chosen on the
    very predictions it is scored on (an optimistic number). Here each fold's held-out images are
    scored at the threshold chosen (:func:`choose_threshold`) on the other folds' out-of-fold
    predictions. Returns ``{"rule", "thresholds", "accuracy", "macro_f1", "sensitivity",
    "specificity"}``.
    """
    y = np.asarray(y).astype(int)
    oof = np.asarray(oof, dtype=np.float64)
    pred = np.zeros(len(y), dtype=int)
    thresholds = []
    for tr, te in splits:
        t, _ = choose_threshold(y[tr], oof[tr])
        thresholds.append(float(t))
        pred[te] = (oof[te] >= t).astype(int)
    return {"rule": "each fold scored at the threshold chosen on the other folds' out-of-fold "
                    "predictions",
            "thresholds": thresholds, **_decision_metrics(y, pred)}


def balanced_class_weight(y: np.ndarray) -> dict[int, float]:
    """``n / (2 n_c)`` per class (scikit-learn's "balanced")."""
    y = np.asarray(y).astype(int)
    n = len(y)
    return {c: float(n / (2 * max(1, int(np.sum(y == c))))) for c in (0, 1)}


def _stratified_folds(y: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in skf.split(np.zeros(len(y)), y)]


def _stratified_split(idx: np.ndarray, y: np.ndarray, fraction: float,
                      seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into (fit, validation) with ``fraction`` of each class in validation."""
    from sklearn.model_selection import train_test_split

    fit, val = train_test_split(idx, test_size=fraction, stratify=y[idx], random_state=seed)
    return np.sort(fit), np.sort(val)


# --- heads on cached features ----------------------------------------------------------------


def _fold_logistic(X: np.ndarray, y: np.ndarray, C: float,
                   class_weight) -> tuple[np.ndarray, float]:
    """Logistic regression on standardised X, folded back into (kernel, bias) on raw X."""
    from sklearn.linear_model import LogisticRegression

    X = np.asarray(X, dtype=np.float64)
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd[sd < 1e-6] = 1.0
    clf = LogisticRegression(C=C, max_iter=5000, class_weight=class_weight)
    clf.fit((X - mu) / sd, y)
    w = clf.coef_[0] / sd
    b = float(clf.intercept_[0] - np.dot(clf.coef_[0], mu / sd))
    return w, b


def _logistic_head(X: np.ndarray, y: np.ndarray, *, class_weight, folds: int, seed: int,
                   Cs: Sequence[float] = LOGISTIC_C) -> tuple[np.ndarray, float, dict]:
    """Choose C by stratified CV (pooled out-of-fold ROC AUC; ties -> smaller C), then fit."""
    k = max(2, min(folds, int(np.bincount(y, minlength=2).min())))
    splits = _stratified_folds(y, k, seed)
    scores = []
    for C in Cs:
        oof = np.zeros(len(y))
        for tr, te in splits:
            w, b = _fold_logistic(X[tr], y[tr], C, class_weight)
            oof[te] = _sigmoid(X[te].astype(np.float64) @ w + b)
        scores.append(_auc(y, oof) or 0.0)
    best = int(np.argmax(np.round(scores, 12)))  # first maximum: the smallest C
    w, b = _fold_logistic(X, y, Cs[best], class_weight)
    info = {"C": float(Cs[best]), "cv_auc": {str(c): float(s) for c, s in zip(Cs, scores)}}
    return w, b, info


def _epoch_bar(*, total: int, desc: str, enabled: bool):
    """A Keras callback advancing a tqdm bar once per epoch (shows the epoch's losses)."""
    import keras

    class EpochBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=total, desc=desc, unit="epoch", leave=False,
                            disable=not enabled)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()
                                  if isinstance(v, (int, float))}, refresh=False)
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return EpochBar()


def _dense_head(X: np.ndarray, y: np.ndarray, *, recipe: Recipe, epochs: int, seed: int,
                progress: bool, desc: str) -> tuple[np.ndarray, float, dict]:
    """The original head (Dropout, Dense sigmoid) trained by Adam on pooled features.

    Equivalent to training the whole model with the backbone frozen in inference mode: the
    backbone's output for an image never changes, so it is computed once.
    """
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((X.shape[1],), name="features")
    x = keras.layers.Dropout(recipe.dropout, name="dropout")(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="prob")(x)
    head = keras.Model(inputs, outputs)
    head.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate),
                 loss="binary_crossentropy", jit_compile=False)
    class_weight = balanced_class_weight(y) if recipe.class_weighted else None
    bar = _epoch_bar(total=epochs, desc=desc, enabled=progress)
    hist = head.fit(X.astype(np.float32), y.astype(np.float32), batch_size=recipe.batch_size,
                    epochs=epochs, shuffle=True, class_weight=class_weight, verbose=0,
                    callbacks=[bar])
    kernel, bias = head.get_layer("prob").get_weights()
    info = {"epochs": int(epochs), "final_loss": float(hist.history["loss"][-1])}
    return kernel[:, 0].astype(np.float64), float(bias[0]), info


# --- the Keras model -----------------------------------------------------------------------


def build_classifier(backbone, *, dropout: float = 0.3, name: str = "dermatrace_mobilenetv2"):
    """The saved architecture around ``backbone`` (see the module docstring)."""
    import keras

    height, width = backbone.input_shape[1:3]
    inputs = keras.Input((height, width, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")(inputs)
    x = backbone(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="prob")(x)
    return keras.Model(inputs, outputs, name=name)


def _set_head(model, kernel: np.ndarray, bias: float) -> None:
    layer = model.get_layer("prob")
    layer.set_weights([np.asarray(kernel, np.float32).reshape(-1, 1),
                       np.asarray([bias], np.float32)])


def _predict_images(model, images: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
    """P(positive) for uint8 images through a compiled forward pass (fixed batch shape)."""
    import tensorflow as tf

    spec = tf.TensorSpec((batch_size,) + tuple(images.shape[1:]), tf.as_dtype(images.dtype))

    @tf.function(input_signature=[spec])
    def forward(batch):
        return model(tf.cast(batch, tf.float32), training=False)

    out = np.zeros(len(images), np.float64)
    # One trace per model (each fold trains a new one): TensorFlow's "retracing" warning about
    # that is expected here, so it is kept out of the user's terminal for this loop only.
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size]
            n = len(batch)
            if n < batch_size:
                batch = np.concatenate([batch, np.zeros((batch_size - n,) + batch.shape[1:],
                                                        batch.dtype)])
            out[start:start + n] = np.asarray(forward(batch))[:n, 0]
    finally:
        logger.setLevel(level)
    return out


def _augmenter(seed: int):
    """Light augmentation: built-in random layers, active only when training."""
    import keras

    return [
        keras.layers.RandomFlip("horizontal_and_vertical", seed=seed, name="aug_flip"),
        keras.layers.RandomRotation(0.05, fill_mode="reflect", seed=seed + 1, name="aug_rotate"),
        keras.layers.RandomZoom(0.1, fill_mode="reflect", seed=seed + 2, name="aug_zoom"),
        keras.layers.RandomContrast(0.1, value_range=(0, 255), seed=seed + 3,
                                    name="aug_contrast"),
    ]


def _finetune(*, images: np.ndarray, y: np.ndarray, idx: np.ndarray, features: np.ndarray,
              recipe: Recipe, epochs: int, base_weights: list, seed: int,
              val_fraction: float, folds: int, progress: bool, desc: str):
    """Linear probe, then fine-tune the top of the backbone with early stopping.

    Returns the trained Keras classifier and a JSON-ready info dict.
    """
    import keras

    fit_idx, val_idx = _stratified_split(idx, y, val_fraction, seed)
    class_weight = "balanced" if recipe.class_weighted else None
    w, b, probe = _logistic_head(features[fit_idx], y[fit_idx], class_weight=class_weight,
                                 folds=folds, seed=seed)

    keras.utils.set_random_seed(seed)
    size = (images.shape[2], images.shape[1])
    backbone = build_backbone(size, RANDOM)
    backbone.set_weights(base_weights)
    model = build_classifier(backbone, dropout=recipe.dropout)
    _set_head(model, w, b)

    backbone.trainable = True
    names = [layer.name for layer in backbone.layers]
    start = names.index(recipe.unfreeze_from)
    for i, layer in enumerate(backbone.layers):
        layer.trainable = i >= start and not isinstance(layer, keras.layers.BatchNormalization)
    trainable_layers = [l.name for l in backbone.layers if l.trainable and l.weights]

    inputs = keras.Input(model.input_shape[1:], name="image")
    x = inputs
    if recipe.augment:
        for layer in _augmenter(seed):
            x = layer(x)
    trainer = keras.Model(inputs, model(x))
    trainer.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate),
                    loss="binary_crossentropy", jit_compile=False)

    class Best(keras.callbacks.Callback):
        """Keep the weights of the epoch with the lowest validation loss; stop on patience."""

        def __init__(self):
            super().__init__()
            self.best, self.best_epoch, self.wait, self.weights = math.inf, -1, 0, None

        def on_epoch_end(self, epoch, logs=None):
            loss = float((logs or {}).get("val_loss", math.inf))
            if loss < self.best:
                self.best, self.best_epoch, self.wait = loss, epoch, 0
                self.weights = model.get_weights()
            else:
                self.wait += 1
                if recipe.patience is not None and self.wait >= recipe.patience:
                    self.model.stop_training = True

    best = Best()
    bar = _epoch_bar(total=epochs, desc=desc, enabled=progress)
    # Validation loss of the linear probe alone, before any fine-tuning (epoch 0).
    start_loss = float(trainer.evaluate(images[val_idx], y[val_idx].astype(np.float32),
                                        batch_size=recipe.batch_size, verbose=0))
    best.best, best.weights, best.best_epoch = start_loss, model.get_weights(), -1
    hist = trainer.fit(images[fit_idx], y[fit_idx].astype(np.float32),
                       validation_data=(images[val_idx], y[val_idx].astype(np.float32)),
                       batch_size=recipe.batch_size, epochs=epochs, shuffle=True,
                       class_weight=(balanced_class_weight(y[fit_idx])
                                     if recipe.class_weighted else None),
                       verbose=0, callbacks=[best, bar])
    model.set_weights(best.weights)
    info = {
        "linear_probe": probe,
        "n_fit": int(len(fit_idx)),
        "n_early_stopping": int(len(val_idx)),
        "val_fraction": float(val_fraction),
        "epochs_run": int(len(hist.history["loss"])),
        "best_epoch": int(best.best_epoch + 1),  # 0: the linear probe alone was best
        "val_loss_start": start_loss,
        "val_loss_best": float(best.best),
        "trainable_backbone_layers": len(trainable_layers),
    }
    return model, info


# --- the entry point -------------------------------------------------------------------------


def _versions() -> dict:
    import keras
    import sklearn
    import tensorflow as tf

    import harness

    return {"dermatrace": harness.__version__, "tensorflow": tf.__version__,
            "keras": keras.__version__, "scikit-learn": sklearn.__version__,
            "numpy": np.__version__}


def train_model(*, data: Path, out: Path, recipe: str, backbone_weights: str = "imagenet",
                val_fraction: float = 0.2, epochs: int | None = None, seed: int = 0,
                input_size: int | None = None, folds: int = 5, progress: bool = False,
                cache: ArrayCache | Path | None = None, positive_class: str | None = None,
                imagenet_fallbacks: Sequence[Path] = ()) -> dict:
    """Train one recipe on the training images of ``data`` and write ``out`` and its sidecar.

    Parameters
    ----------
    data : Path
        A folder of class subfolders (or a manifest) with exactly two classes; when it holds
        ``train/``, only ``train/`` is read.
    out : Path
        The ``.keras`` file to write; the sidecar goes to ``out.with_suffix(".json")``.
    recipe : str
        One of :data:`RECIPES`.
    backbone_weights : str
        ``"imagenet"``, ``"none"`` or a weights file
        (:func:`harness.train.backbone.resolve_backbone_weights`).
    val_fraction : float
        Share of the training images held out for early stopping (``finetune``), in (0, 0.9).
    epochs : int, optional
        Epochs of the dense head or of fine-tuning (a maximum under early stopping); default:
        the recipe's. Ignored by ``linear-head``.
    seed : int
        Seeds weights, dropout, augmentation, shuffling, the split and the folds.
    input_size : int, optional
        Square input size in pixels (>= 32); default: the recipe's (224, or 384 for
        ``linear-head``).
    folds : int
        k of the stratified k-fold cross-validation whose out-of-fold predictions choose the
        threshold (>= 2; at most the size of the smaller class).
    progress : bool
        tqdm bars for decoding, features and epochs.
    cache : ArrayCache or Path, optional
        Where pooled backbone features are cached (a folder is wrapped in ``ArrayCache``).
    positive_class : str, optional
        The class the output's probability measures; default: the second class name in sorted
        order (what the sidecar convention infers).
    imagenet_fallbacks : sequence of Path
        Local weights files used for ``"imagenet"`` when Keras' download is not reachable.

    Returns
    -------
    dict
        The sidecar's content plus ``"model"``, ``"sidecar"`` (paths written) and ``"timings"``
        (seconds; not in the sidecar, which is deterministic).

    Raises
    ------
    UserError
        Unknown recipe, bad option value, unusable weights, a dataset without exactly two
        classes or with too few images for the folds, or an ``out`` not ending in ``.keras``.
    """
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    if recipe not in RECIPES:
        raise UserError(f"--recipe: unknown recipe {recipe!r}; use one of {', '.join(RECIPES)}")
    rec = RECIPES[recipe]
    out = Path(out)
    if out.suffix != ".keras":
        raise UserError(f"--out: the model is written as a .keras file (got {str(out)!r}); give "
                        "a name ending in .keras")
    if isinstance(val_fraction, bool) or not 0.0 < float(val_fraction) < 0.9:
        raise UserError(f"--val-fraction: must be between 0 and 0.9 (got {val_fraction!r}); "
                        "e.g. 0.2")
    if epochs is not None and (isinstance(epochs, bool) or int(epochs) != epochs or epochs < 1):
        raise UserError(f"--epochs: must be a positive integer (got {epochs!r})")
    size = rec.input_size if input_size is None else input_size
    if isinstance(size, bool) or int(size) != size or size < 32:
        raise UserError(f"--input-size: must be an integer of at least 32 pixels (got "
                        f"{input_size!r}); MobileNetV2 needs 32 x 32 or more")
    size = int(size)
    if isinstance(folds, bool) or int(folds) != folds or folds < 2:
        raise UserError(f"--folds: must be an integer of at least 2 (got {folds!r})")
    n_epochs = int(epochs) if epochs is not None else rec.epochs
    if not isinstance(cache, ArrayCache):
        cache = ArrayCache(None if cache is None else Path(cache))

    weights = (None if rec.architecture == "small_cnn"
               else resolve_backbone_weights(backbone_weights, fallbacks=imagenet_fallbacks))

    from harness.data.load import load_dataset
    from harness.data.decode import DECODER_VERSION

    folder = training_folder(data)
    t0 = time.perf_counter()
    ds = load_dataset(folder, size=(size, size), progress=progress)
    timings["load"] = time.perf_counter() - t0
    names = [c for c in ds.class_names]
    if len(names) != 2 or "" in names:
        raise UserError(f"{folder}: training needs exactly two labelled classes (got "
                        f"{names!r}); give a folder with two class subfolders or a manifest "
                        "with two labels")
    if positive_class is None:
        positive_class = names[1]
    if positive_class not in names:
        raise UserError(f"--positive-class: {positive_class!r} is not a class of {folder} "
                        f"({names!r}); give one of them")
    negative = names[0] if names[1] == positive_class else names[1]
    class_names = [negative, positive_class]
    y = (np.asarray(ds.labels) == positive_class).astype(np.int64)
    smallest = int(np.bincount(y, minlength=2).min())
    if smallest < folds:
        raise UserError(f"{folder}: the smaller class has {smallest} usable image(s), fewer than "
                        f"--folds {folds}; add images or lower --folds")
    if rec.finetune and smallest * (folds - 1) / folds * val_fraction < 1:
        raise UserError(f"{folder}: too few images to hold out --val-fraction {val_fraction} "
                        "of each class in every fold; add images or raise --val-fraction")

    import keras
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)

    # Pooled features of the frozen backbone (every MobileNetV2 recipe uses them: the frozen
    # heads are trained on them, fine-tuning starts from a linear probe on them).
    t0 = time.perf_counter()
    if rec.architecture == "small_cnn":
        backbone = features = base_weights = None
        backbone_info = {"architecture": "small_cnn", "weights": "trained from scratch"}
    else:
        backbone = build_backbone((size, size), weights)
        backbone_info = weights.to_json()
        if weights.path is None:  # random weights: make them numerically alive
            backbone_info["batchnorm_calibration_images"] = calibrate_batchnorm(
                backbone, ds.images, seed=seed)
        base_weights = backbone.get_weights()
        keys = [f"{h}:{size}x{size}:{DECODER_VERSION}" for h in ds.image_hashes]
        features = pooled_features(ds.images, backbone=backbone, weights=weights, image_keys=keys,
                                   cache=cache, progress=progress, desc=f"{recipe}: features")
    timings["features"] = time.perf_counter() - t0

    def fit(idx: np.ndarray, desc: str):
        """Train the recipe on ``idx``; returns (predict(other_idx) -> p, info, model or None)."""
        if rec.architecture == "small_cnn":
            from harness.train.small_cnn import fit_small_cnn

            model, info = fit_small_cnn(
                ds.images[idx], y[idx], epochs=n_epochs, learning_rate=rec.learning_rate,
                batch_size=rec.batch_size, dropout=rec.dropout, seed=seed,
                class_weight=balanced_class_weight(y[idx]) if rec.class_weighted else None,
                callbacks=[_epoch_bar(total=n_epochs, desc=desc, enabled=progress)])
            return (lambda j: _predict_images(model, ds.images[j])), info, model
        if rec.finetune:
            model, info = _finetune(images=ds.images, y=y, idx=idx, features=features,
                                    recipe=rec, epochs=n_epochs, base_weights=base_weights,
                                    seed=seed,
                                    val_fraction=val_fraction, folds=folds, progress=progress,
                                    desc=desc)
            return (lambda j: _predict_images(model, ds.images[j])), info, model
        if rec.head == "logistic":
            w, b, info = _logistic_head(features[idx], y[idx],
                                        class_weight="balanced" if rec.class_weighted else None,
                                        folds=folds, seed=seed)
        else:
            w, b, info = _dense_head(features[idx], y[idx], recipe=rec, epochs=n_epochs,
                                     seed=seed, progress=progress, desc=desc)
        info = dict(info, kernel=w, bias=b)
        return (lambda j: _sigmoid(features[j].astype(np.float64) @ w + b)), info, None

    # Out-of-fold predictions -> threshold and validation metrics.
    t0 = time.perf_counter()
    oof = np.zeros(len(y), np.float64)
    fold_info = []
    splits = _stratified_folds(y, folds, seed)
    for i, (tr, te) in enumerate(splits, start=1):
        predict, info, _ = fit(tr, f"{recipe}: fold {i}/{folds}")
        oof[te] = predict(te)
        info.pop("kernel", None)
        info.pop("bias", None)
        fold_info.append(dict(info, n_train=int(len(tr)), n_held_out=int(len(te)),
                              auc=_auc(y[te], oof[te])))
    threshold, sweep = choose_threshold(y, oof)
    timings["cross_validation"] = time.perf_counter() - t0

    # The model: trained on every training image.
    t0 = time.perf_counter()
    _, final_info, model = fit(np.arange(len(y)), f"{recipe}: final")
    if model is None:
        keras.utils.set_random_seed(seed)
        model = build_classifier(backbone, dropout=rec.dropout)
        _set_head(model, final_info.pop("kernel"), final_info.pop("bias"))
        backbone.trainable = False
    timings["final_fit"] = time.perf_counter() - t0

    validation = dict(
        method=f"stratified {folds}-fold cross-validation, out-of-fold predictions",
        folds=int(folds),
        threshold=float(threshold),
        threshold_rule="macro-F1 over 0.05..0.95 step 0.05",
        **binary_metrics(y, oof, threshold),
        at_fold_thresholds=fold_threshold_metrics(y, oof, splits),
        sweep=sweep,
        per_fold=fold_info,
    )
    settings = {k: v for k, v in asdict(rec).items() if k != "name"}
    settings.update(input_size=size, epochs=n_epochs if rec.head in ("dense", "cnn") else None,
                    val_fraction=float(val_fraction) if rec.finetune else None, folds=int(folds))
    spec = {
        "class_names": class_names,
        "positive_class": positive_class,
        "threshold": float(threshold),
        "preprocessing": "none",
        "input_size": [size, size],
        "recipe": recipe,
        "data_fingerprint": ds.fingerprint,
        "validation": validation,
        "seed": int(seed),
        "epochs": settings["epochs"],
        "backbone": backbone_info,
        "training": {
            "sidecar_version": SIDECAR_VERSION,
            "data": str(folder),
            "n_images": len(ds),
            "class_counts": ds.class_counts(),
            "skipped": len(ds.skipped),
            "settings": settings,
            "final_model": final_info,
            "versions": _versions(),
        },
    }
    spec = jsonable(spec)

    from harness.models.sidecar import validate_fields

    validate_fields(spec, source=str(out.with_suffix(".json")))  # what harness run will read
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    sidecar = out.with_suffix(".json")
    sidecar.write_text(json.dumps(spec, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    timings["total"] = time.perf_counter() - t_start
    return dict(spec, model=str(out), sidecar=str(sidecar),
                timings={k: round(v, 3) for k, v in timings.items()})

