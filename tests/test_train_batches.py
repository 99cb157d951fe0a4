"""The batches training feeds Keras: Keras' own numbers, and no TensorFlow lines on the terminal.

Keras' pipeline for NumPy input, under op determinism, makes TensorFlow log
``E0000 ... node_def_util.cc:682] NodeDef mentions attribute use_unbounded_threadpool ...`` for
every fit whose sample count is not a multiple of the batch size (see
``harness.train.batches``). Training builds its batches itself and must print none of them, while
giving the very numbers Keras' own batches give.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from harness.train.batches import fit_batches, sample_weights

REPO = Path(__file__).resolve().parents[1]
NODE_DEF_LINE = "NodeDef mentions attribute use_unbounded_threadpool"


def _tiny_fit(feed: str) -> tuple[np.ndarray, list[float], float]:
    """3 epochs of a Dropout + Dense model on 21 rows (batches of 8: a partial one), weighted."""
    import keras
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    x = np.random.default_rng(1).random((21, 5)).astype(np.float32)
    y = (x[:, 0] + 0.3 * x[:, 1] > 0.7).astype(np.float32)
    weights = {0: 0.8, 1: 1.4}
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dropout(0.3),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(1e-2), "binary_crossentropy", jit_compile=False)
    keras.utils.set_random_seed(3)
    if feed == "numpy":
        hist = model.fit(x, y, batch_size=8, epochs=3, shuffle=True, class_weight=weights,
                         verbose=0)
        loss = model.evaluate(x, y, batch_size=8, verbose=0)
    else:
        hist = model.fit(fit_batches(x, y, batch_size=8, shuffle=True, class_weight=weights),
                         epochs=3, shuffle=False, verbose=0)
        loss = model.evaluate(fit_batches(x, y, batch_size=8, shuffle=False), verbose=0)
    flat = np.concatenate([w.ravel() for w in model.get_weights()])
    return flat, hist.history["loss"], float(loss)


def test_fit_batches_train_exactly_as_keras_own_batches():
    ours, our_losses, our_eval = _tiny_fit("ours")
    keras_, keras_losses, keras_eval = _tiny_fit("numpy")
    np.testing.assert_array_equal(ours, keras_)
    assert our_losses == keras_losses and our_eval == keras_eval
    assert len(set(our_losses)) == 3  # three different epochs, so the shuffles were compared


def test_batches_cover_every_row_once_per_pass_with_the_remainder_last():
    x = np.arange(21, dtype=np.float32)
    batches = fit_batches(x, x * 10, batch_size=8, shuffle=True, class_weight={0: 2.0})
    assert int(batches.cardinality()) == 3
    rows = [tuple(np.asarray(t) for t in b) for b in batches]
    assert [len(b[0]) for b in rows] == [8, 8, 5]
    assert sorted(np.concatenate([b[0] for b in rows]).tolist()) == list(range(21))
    for bx, by, bw in rows:
        np.testing.assert_array_equal(by, bx * 10)
        assert bw.dtype == np.float32
    ordered = [np.asarray(b[0]) for b in fit_batches(x, x, batch_size=8, shuffle=False)]
    np.testing.assert_array_equal(np.concatenate(ordered), x)


def test_sample_weights_follow_the_class_and_default_to_one():
    w = sample_weights(np.array([0.0, 1.0, 1.0, 2.0]), {0: 0.5, 1: 3.0})
    assert w.dtype == np.float32 and w.tolist() == [0.5, 3.0, 3.0, 1.0]


SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from harness.demo.synthetic import make_synthetic_dataset
    from harness.train.run import train_model

    root = Path(sys.argv[1])
    make_synthetic_dataset(root / "train", n=24, size=32, seed=0)
    print("---- training", file=sys.stderr, flush=True)
    train_model(data=root, out=root / "m.keras", recipe="small-cnn", backbone_weights="none",
                input_size=32, folds=2, epochs=1)
    print("---- Keras' own batches", file=sys.stderr, flush=True)
    import keras, numpy as np
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(np.zeros((20, 2), np.float32), np.zeros(20, np.float32), batch_size=8, verbose=0)
    print("---- done", file=sys.stderr, flush=True)
""")


def test_training_prints_no_tensorflow_node_def_lines(tmp_path):
    # One short real training (the demo's small net, 2 folds and the final model: three fits
    # with a partial batch each), TensorFlow's C++ logging at its most talkative. Then, as the
    # control that shows such lines would be seen, one fit on Keras' own NumPy batches.
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "m.json").is_file()
    training, rest = done.stderr.split("---- training", 1)[1].split("---- Keras' own batches")
    assert NODE_DEF_LINE not in training and "node_def_util" not in training, training[-3000:]
    assert NODE_DEF_LINE in rest.split("---- done")[0]
