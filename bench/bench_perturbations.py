"""Benchmark: perturbation ladder images/s beside a MobileNetV2 forward pass on the same images.

    .venv/bin/python bench/bench_perturbations.py [--data DIR] [--size 224] [--repeat 3] [--extras] [--no-model]

Loads the DermNet NZ test images (108) at SIZE x SIZE, then times, for each of the six core
families over severities 1..5 (30 variants):
  apply        perturbation from the uint8 batch (each variant converts to CIELAB itself),
  prepared     the same through perturbations.prepare (CIELAB of the clean batch computed once;
               its one-off cost is printed separately),
  achieved     the per-image measurement of what a variant did (clean batch prepared);
and the forward pass of MobileNetV2 (Keras, tf.function, batch 32) over the same images, the
physical limit of an audit. Prints best-of-REPEAT times; never asserts anything.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from perturbations import Variant, achieved, apply, families, prepare  # noqa: E402


CPU: dict[str, float] = {}  # label -> best process CPU seconds (all threads), beside the wall time


def best_of(repeat: int, fn, label: str | None = None) -> float:
    """Best wall time of ``repeat`` runs; the best CPU time is kept under ``label``. On a shared
    machine CPU seconds are the steadier measure of the work done."""
    times, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    if label is not None:
        CPU[label] = CPU.get(label, 0.0) + min(cpu)
    return min(times)


def load(data: Path, size: int) -> np.ndarray:
    from harness.data.load import load_dataset

    return load_dataset(data, size=(size, size)).images


def model_images_per_s(images: np.ndarray, repeat: int) -> float:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    size = images.shape[1]
    backbone = keras.applications.MobileNetV2(input_shape=(size, size, 3), include_top=False, weights=None)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(backbone(x, training=False))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    forward = tf.function(lambda b: model(b, training=False), reduce_retracing=True)

    def run():
        for start in range(0, len(images), 32):
            forward(tf.constant(images[start:start + 32], dtype=tf.float32)).numpy()

    run()  # trace
    return len(images) / best_of(repeat, run, "model")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "dermnetnz_eczema_ad" / "test"))
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--extras", action="store_true", help="also time every other family")
    parser.add_argument("--no-model", action="store_true", help="skip the MobileNetV2 forward pass")
    args = parser.parse_args(argv)

    images = load(Path(args.data), args.size)
    n = len(images)
    print(f"{n} images at {args.size} px, best of {args.repeat}; cv2 threads: "
          f"{__import__('cv2').getNumThreads()}, cpus: {os.cpu_count()}")
    t_prep = best_of(args.repeat, lambda: prepare(images).lab, "core")
    print(f"prepare (clean CIELAB, once per ladder): {t_prep * 1000:7.1f} ms")
    print(f"{'family':26s} {'apply img/s':>12s} {'prepared img/s':>15s} {'achieved img/s':>15s}")
    tot_apply = tot_prep = tot_ach = 0.0
    prepared = prepare(images)
    prepared.lab
    core = families("clinical")
    names = core + ([f for f in families("all") if f not in core] if args.extras else [])
    for family in names:
        variants = [Variant(family, s) for s in range(1, 6)]
        ta = sum(best_of(args.repeat, lambda v=v: apply(v, images)) for v in variants)
        tp = sum(best_of(args.repeat, lambda v=v: apply(v, prepared), "core" if family in core else None)
                 for v in variants)
        outs = [apply(v, prepared) for v in variants]
        tm = sum(best_of(args.repeat, lambda o=o: achieved(prepared, o)) for o in outs)
        if family in core:
            tot_apply, tot_prep, tot_ach = tot_apply + ta, tot_prep + tp, tot_ach + tm
        k = 5 * n
        print(f"{family:26s} {k / ta:12.0f} {k / tp:15.0f} {k / tm:15.0f}")
    k = 30 * n
    print(f"{'six core x 5 severities':26s} {k / tot_apply:12.0f} {k / (tot_prep + t_prep):15.0f} "
          f"{k / tot_ach:15.0f}   ({k} images; prepared includes prepare)")
    print(f"core ladder seconds: apply {tot_apply:.2f}  prepared {tot_prep + t_prep:.2f}  "
          f"achieved {tot_ach:.2f}")
    if not args.no_model:
        ips = model_images_per_s(images, args.repeat)
        print(f"MobileNetV2 forward (batch 32): {ips:.0f} img/s -> the same {k} images take {k / ips:.1f} s")
        print(f"CPU seconds per image: ladder (prepared) {CPU['core'] / k * 1000:.2f} ms, "
              f"model {CPU['model'] / n * 1000:.2f} ms -> the model costs "
              f"{(CPU['model'] / n) / (CPU['core'] / k):.0f}x the ladder")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
