"""The ``finetune`` recipe: a linear probe, then the top of the backbone trained with the head.

The head starts from :func:`harness.train.heads.logistic_head`'s solution on the frozen features
of the fit split; then the backbone layers from ``recipe.unfreeze_from`` on (BatchNormalization
layers stay frozen) are trained with the head under light augmentation (built-in random layers,
active only in training and not part of the saved model), keeping the epoch with the lowest loss
on a seeded, stratified validation split of the training images (early stopping on patience).
"""
from __future__ import annotations

import numpy as np

from harness.train.backbone import BackboneWeights, build_backbone
from harness.train.batches import fit_batches
from harness.train.callbacks import epoch_bar, keep_best
from harness.train.classifier import build_classifier, set_head
from harness.train.heads import balanced_class_weight, logistic_head
from harness.train.recipes import Recipe
from harness.train.validation import stratified_split

__all__ = ["finetune"]

#: Stand-in weights for building a backbone whose weights are then set from memory.
RANDOM = BackboneWeights(option="none", path=None, source="random", sha256=None)


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


def _unfreeze_top(backbone, *, first: str) -> list[str]:
    """Make the backbone trainable from layer ``first`` on, BatchNormalization excepted."""
    import keras

    backbone.trainable = True
    names = [layer.name for layer in backbone.layers]
    start = names.index(first)
    for i, layer in enumerate(backbone.layers):
        layer.trainable = i >= start and not isinstance(layer, keras.layers.BatchNormalization)
    return [layer.name for layer in backbone.layers if layer.trainable and layer.weights]


def _probe_model(*, images: np.ndarray, features: np.ndarray, y: np.ndarray,
                 fit_idx: np.ndarray, recipe: Recipe, base_weights: list, folds: int,
                 seed: int):
    """The classifier with the frozen backbone's weights and the linear probe as its head."""
    import keras

    w, b, probe = logistic_head(features[fit_idx], y[fit_idx],
                                class_weight="balanced" if recipe.class_weighted else None,
                                folds=folds, seed=seed)
    keras.utils.set_random_seed(seed)
    backbone = build_backbone((images.shape[2], images.shape[1]), RANDOM)
    backbone.set_weights(base_weights)
    model = build_classifier(backbone, dropout=recipe.dropout)
    set_head(model, w, b)
    return model, backbone, probe


def finetune(*, images: np.ndarray, y: np.ndarray, idx: np.ndarray, features: np.ndarray,
             recipe: Recipe, epochs: int, base_weights: list, seed: int,
             val_fraction: float, folds: int, progress: bool, desc: str):
    """Linear probe, then fine-tune the top of the backbone with early stopping.

    Parameters
    ----------
    images, y, features : np.ndarray
        uint8 images, 0/1 labels and the frozen backbone's pooled features of every image.
    idx : np.ndarray
        The rows to train on (split into fit and early-stopping rows).
    recipe : Recipe
        Supplies the learning rate, batch size, first unfrozen layer, augmentation, patience.
    epochs : int
        Most epochs of fine-tuning.
    base_weights : list
        The frozen backbone's weights (``get_weights()``), the starting point.
    seed, val_fraction, folds, progress, desc
        Seed; early-stopping share of ``idx``; folds of the probe's C choice; a tqdm bar and its
        label.

    Returns
    -------
    tuple
        The trained Keras classifier and a JSON-ready info dict.
    """
    import keras

    fit_idx, val_idx = stratified_split(idx, y, fraction=val_fraction, seed=seed)
    model, backbone, probe = _probe_model(images=images, features=features, y=y,
                                          fit_idx=fit_idx, recipe=recipe,
                                          base_weights=base_weights, folds=folds, seed=seed)
    trainable_layers = _unfreeze_top(backbone, first=recipe.unfreeze_from)

    inputs = keras.Input(model.input_shape[1:], name="image")
    x = inputs
    if recipe.augment:
        for layer in _augmenter(seed):
            x = layer(x)
    trainer = keras.Model(inputs, model(x))
    trainer.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate),
                    loss="binary_crossentropy", jit_compile=False)

    def batches(rows: np.ndarray, *, shuffle: bool, class_weight=None):
        return fit_batches(images[rows], y[rows].astype(np.float32),
                           batch_size=recipe.batch_size, shuffle=shuffle,
                           class_weight=class_weight)

    # Validation loss of the linear probe alone, before any fine-tuning (epoch 0).
    start_loss = float(trainer.evaluate(batches(val_idx, shuffle=False), verbose=0))
    best = keep_best(model, start_loss=start_loss, patience=recipe.patience)
    hist = trainer.fit(
        batches(fit_idx, shuffle=True,
                class_weight=balanced_class_weight(y[fit_idx]) if recipe.class_weighted else None),
        validation_data=batches(val_idx, shuffle=False), epochs=epochs, shuffle=False,
        verbose=0, callbacks=[best, epoch_bar(total=epochs, desc=desc, enabled=progress)])
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
