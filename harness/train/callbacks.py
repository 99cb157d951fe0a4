"""Keras callbacks of the training: an epoch progress bar, and keeping the best epoch's weights."""
from __future__ import annotations

import math

from tqdm import tqdm

__all__ = ["epoch_bar", "keep_best"]


def epoch_bar(*, total: int, desc: str, enabled: bool):
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


def keep_best(model, *, start_loss: float, patience: int | None):
    """A callback keeping ``model``'s weights of the epoch with the lowest validation loss.

    ``start_loss`` is the validation loss before the first epoch (the weights ``model`` holds
    now, recorded as epoch -1); training stops after ``patience`` epochs without improvement
    (never when None). After ``fit``, the callback's ``weights``, ``best`` (the loss) and
    ``best_epoch`` (0-based; -1: no epoch improved on the start) say what was kept.
    """
    import keras

    class KeepBest(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best, self.best_epoch, self.wait = start_loss, -1, 0
            self.weights = model.get_weights()

        def on_epoch_end(self, epoch, logs=None):
            loss = float((logs or {}).get("val_loss", math.inf))
            if loss < self.best:
                self.best, self.best_epoch, self.wait = loss, epoch, 0
                self.weights = model.get_weights()
            else:
                self.wait += 1
                if patience is not None and self.wait >= patience:
                    self.model.stop_training = True

    return KeepBest()
