"""The batches every Keras ``fit`` and ``evaluate`` of the training reads: built here, not by Keras.

Given NumPy arrays, Keras 3 (TensorFlow backend) builds a ``tf.data`` pipeline itself: one
shuffled index permutation per pass (``tf.random.shuffle`` in a dataset function), the full
batches of indices plus, when ``n`` is not a multiple of the batch size, the remainder as a
``Dataset.from_tensors`` element, and a parallel ``map`` that gathers each batch. Under
``tf.config.experimental.enable_op_determinism()`` (the training always runs under it),
TensorFlow's ``make_deterministic`` rewrite finds the stateful ``from_tensors`` source inside that
dataset function, takes the pipeline for possibly non-deterministic when run asynchronously, and
turns its ``ParallelMapDatasetV2`` into a sequential ``MapDataset`` without removing the
``use_unbounded_threadpool`` attribute ``MapDataset`` does not have; TensorFlow then logs
``E0000 ... node_def_util.cc:682] NodeDef mentions attribute use_unbounded_threadpool which is
not in the op definition`` once per such fit to the terminal.

:func:`fit_batches` builds the same batches in the same order (the same permutation op, so the
same seeded shuffle; the same gather) with the remainder taken by ``from_tensor_slices``, which
the rewrite knows to be deterministic, and a sequential ``map``: nothing is rewritten, nothing is
logged, and training gives the very numbers it gave on NumPy input
(``tests/test_train_batches.py`` checks both).
"""
from __future__ import annotations

import numpy as np

__all__ = ["fit_batches", "sample_weights"]


def sample_weights(y: np.ndarray, class_weight: dict[int, float]) -> np.ndarray:
    """float32 weight of each sample's class (1.0 for a class not in ``class_weight``).

    What Keras' ``fit(class_weight=...)`` derives from NumPy labels.
    """
    classes = np.round(np.asarray(y)).astype(np.int32)
    return np.asarray([class_weight.get(int(c), 1.0) for c in classes], dtype=np.float32)


def fit_batches(x: np.ndarray, y: np.ndarray, *, batch_size: int, shuffle: bool,
                class_weight: dict[int, float] | None = None):
    """A ``tf.data.Dataset`` of ``(x, y[, sample_weight])`` batches for ``fit`` or ``evaluate``.

    Parameters
    ----------
    x, y : np.ndarray
        Inputs and targets, row-aligned; float arrays should be float32 (Keras' floatx).
    batch_size : int
        Rows per batch; the last batch holds the remainder.
    shuffle : bool
        A new seeded permutation of the rows for every pass, as ``fit(shuffle=True)`` makes.
    class_weight : dict, optional
        Class -> weight; becomes a third element, each row's weight (:func:`sample_weights`).

    Returns
    -------
    tf.data.Dataset
        With a known number of batches; pass it to ``fit``/``evaluate`` with ``shuffle=False``
        and without ``batch_size`` or ``class_weight``.
    """
    import tensorflow as tf

    arrays = (x, y) if class_weight is None else (x, y, sample_weights(y, class_weight))
    n = int(len(x))
    full, rest = divmod(n, batch_size)

    def permutation(_):
        # The very ops of Keras' array adapter, in its order: the same op seed, the same shuffle.
        indices = tf.range(n, dtype=tf.int64)
        if shuffle:
            indices = tf.random.shuffle(indices)
        return indices

    def batch_indices(indices):
        head = tf.reshape(tf.slice(indices, [0], [full * batch_size]), [full, batch_size])
        batches = tf.data.Dataset.from_tensor_slices(head)
        if rest:
            tail = tf.slice(indices, [full * batch_size], [rest])[tf.newaxis]
            batches = batches.concatenate(tf.data.Dataset.from_tensor_slices(tail))
        return batches

    def gather(batch, rows):
        return tuple(tf.gather(a, batch, axis=0) for a in rows)

    indices = tf.data.Dataset.range(1).map(permutation).prefetch(1).flat_map(batch_indices)
    indices = indices.apply(tf.data.experimental.assert_cardinality(full + (1 if rest else 0)))
    data = tf.data.Dataset.from_tensors(arrays).repeat()
    dataset = tf.data.Dataset.zip((indices, data)).map(gather)
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    if shuffle:
        options.experimental_external_state_policy = (
            tf.data.experimental.ExternalStatePolicy.IGNORE)
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
