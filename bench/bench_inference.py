"""Inference throughput and cache read speed.

    .venv/bin/python bench/bench_inference.py [--weights PATH] [--data DIR] [--n 128]

Prints images/s of ``LoadedModel.predict_proba`` (compiled tf.function, fixed batch of 32) against
``keras.Model.predict(batch_size=32)`` on the study's architecture (MobileNetV2 nested as a
sub-model, ImageNet weights, 224x224), and the time to read 3,500 cached predictions with
``ArrayCache`` against one ``.npy`` file per key. Numbers only; nothing is asserted.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_WEIGHTS = REPO.parent / "shared/data/weights/mobilenet_v2_1.0_224_no_top_imagenet.weights.h5"
DEFAULT_DATA = REPO.parent / "shared/data/dermnetnz_eczema_ad/test"


def build_model(weights: Path, size: int = 224):
    """MobileNetV2 nested as a sub-model, as in the original study (tests/conftest.py)."""
    from tests.conftest import build_nested_mobilenet

    return build_nested_mobilenet(weights, input_size=size)


def load_images(folder: Path, n: int, size: int = 224) -> np.ndarray:
    from harness.data.decode import decode_image

    files = sorted(folder.rglob("*.jpg"))
    if not files:
        raise SystemExit(f"{folder}: no .jpg images")
    decoded = [decode_image(f, size=(size, size)) for f in files[:n]]
    return np.stack([decoded[i % len(decoded)] for i in range(n)])


def best_rate(fn, n: int, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return n / min(times), min(times)


def bench_model(args) -> None:
    from harness.models.open import open_model

    images = load_images(args.data, args.n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "eczemanet.keras"
        t = time.perf_counter()
        build_model(args.weights).save(path)
        path.with_suffix(".json").write_text(json.dumps({
            "class_names": ["atopic_dermatitis", "eczema"], "positive_class": "eczema",
            "threshold": 0.5, "preprocessing": "none", "input_size": [224, 224]}))
        print(f"build + save nested MobileNetV2: {time.perf_counter() - t:.2f} s")

        t = time.perf_counter()
        model = open_model(str(path))
        print(f"open_model (hash {path.stat().st_size / 2**20:.1f} MiB, no TF): "
              f"{(time.perf_counter() - t) * 1e3:.1f} ms")
        t = time.perf_counter()
        model.load()
        print(f"load the Keras model: {time.perf_counter() - t:.2f} s")
        t = time.perf_counter()
        model.predict_proba(images[:32], batch_size=32)
        print(f"first batch (traces the tf.function): {time.perf_counter() - t:.2f} s")

        keras_model = model.keras_model()
        x = images.astype(np.float32)
        keras_model.predict(x[:32], batch_size=32, verbose=0)  # warm-up

        rate, sec = best_rate(lambda: model.predict_proba(images, batch_size=32), args.n,
                              args.repeats)
        print(f"predict_proba   batch 32: {rate:7.1f} images/s ({args.n} images in {sec:.2f} s)")
        rate_k, sec_k = best_rate(lambda: keras_model.predict(x, batch_size=32, verbose=0),
                                  args.n, args.repeats)
        print(f"model.predict   batch 32: {rate_k:7.1f} images/s ({args.n} images in {sec_k:.2f} s)")
        p = model.predict_proba(images, batch_size=32)
        k = keras_model.predict(x, batch_size=32, verbose=0)[:, 0]
        print(f"max |predict_proba - model.predict| = {np.abs(p - k).max():.2e}")


def bench_cache(n: int = 3500, batch: int = 32) -> None:
    from harness.cache import ArrayCache
    from harness.models.predict import predict_cached

    rng = np.random.default_rng(0)
    keys = [hashlib.sha256(str(i).encode()).hexdigest() + ":224x224" for i in range(n)]
    values = rng.random(n)
    with tempfile.TemporaryDirectory() as tmp:
        cache = ArrayCache(Path(tmp) / "segments")
        t = time.perf_counter()
        for s in range(0, n, batch):
            cache.put_many("model/clean", {k: np.float64(v) for k, v in
                                           zip(keys[s:s + batch], values[s:s + batch])})
        write = time.perf_counter() - t
        t = time.perf_counter()
        got = cache.get_many("model/clean", keys)
        read = time.perf_counter() - t
        assert len(got) == n
        segs = len(list((Path(tmp) / "segments").rglob("*.seg")))
        print(f"ArrayCache: write {n} scalars in {n // batch + 1} batches {write * 1e3:.0f} ms, "
              f"read all {read * 1e3:.1f} ms ({segs} segment file(s))")

        class Fake:  # the attributes predict_cached reads on a fully cached run
            hash, cache_tag, output_kind = "model", "tag", "sigmoid"

        cache.put_many("model/clean", {f"{k}|tag": np.float64(v) for k, v in zip(keys, values)})
        t = time.perf_counter()
        predict_cached(Fake(), lambda: None, image_keys=keys, variant="clean", cache=cache)
        print(f"predict_cached, all {n} cached: {(time.perf_counter() - t) * 1e3:.1f} ms")

        root = Path(tmp) / "npy"
        t = time.perf_counter()
        for k, v in zip(keys, values):
            d = root / k[:2]
            d.mkdir(parents=True, exist_ok=True)
            np.save(d / f"{k[:64]}.npy", np.float64(v))
        write_npy = time.perf_counter() - t
        t = time.perf_counter()
        _ = [np.load(root / k[:2] / f"{k[:64]}.npy") for k in keys]
        read_npy = time.perf_counter() - t
        print(f"one .npy per key (for comparison): write {write_npy * 1e3:.0f} ms, "
              f"read all {read_npy * 1e3:.1f} ms")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-model", action="store_true", help="only the cache numbers")
    args = parser.parse_args(argv)
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    bench_cache()
    if not args.skip_model:
        bench_model(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
