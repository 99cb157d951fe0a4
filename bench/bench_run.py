"""Whole-run cost of ``harness run`` beside the model's own forward passes.

Prints, on the DermNet NZ test photographs (108 images) with the six core perturbation families at
severities 1-5 (31 variants) and ``--gradcam none``:

- the floor: one TensorFlow import plus the model's forward passes over the same 31 x 108 images
  (compiled ``tf.function``, batch 32), in a fresh process;
- a cold ``harness run`` (empty cache), in a fresh process;
- the same run again (everything cached);
- the ratios cold / floor and cold / warm.

Usage: ``python bench/bench_run.py [--data DIR] [--weights H5] [--gradcam none|all]``
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))

FLOOR = r"""
import sys, time
t0 = time.perf_counter()
import numpy as np, tensorflow as tf, keras
from harness.data.load import load_dataset
from perturbations import apply, ladder
model = keras.saving.load_model(sys.argv[1])
ds = load_dataset(sys.argv[2], size=(224, 224))
fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
variants = ladder(["brightness_down", "brightness_up", "contrast_down", "contrast_up", "redness", "blur"], [1, 2, 3, 4, 5])
batches = [ds.images] + [ds.images] * len(variants)   # same pixel count as the ladder
t_model = 0.0
for imgs in batches:
    for s in range(0, len(imgs), 32):
        x = imgs[s:s + 32]
        if len(x) < 32:
            x = np.concatenate([x, np.zeros((32 - len(x),) + x.shape[1:], x.dtype)])
        t1 = time.perf_counter(); fn(tf.constant(x, tf.float32)).numpy(); t_model += time.perf_counter() - t1
print(f"{time.perf_counter() - t0:.3f} {t_model:.3f}")
"""


def build_model(weights: Path, out: Path) -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import build_nested_mobilenet  # the original study's architecture

    model = build_nested_mobilenet(weights)
    path = out / "nested_mobilenet.keras"
    model.save(path)
    path.with_suffix(".json").write_text(
        '{"class_names": ["atopic_dermatitis", "eczema"], "positive_class": "eczema", '
        '"threshold": 0.5, "preprocessing": "none", "input_size": [224, 224]}')
    return path


def timed_run(model: Path, data: Path, out: Path, cache: Path, gradcam: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "--model", str(model), "--data", str(data),
                           "--out", str(out), "--cache", str(cache), "--gradcam", gradcam, "--quiet"],
                          cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"harness run failed ({proc.returncode}): {proc.stderr.strip()}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=SHARED / "dermnetnz_eczema_ad" / "test")
    ap.add_argument("--weights", type=Path, default=SHARED / "weights" / "mobilenet_v2_1.0_224_no_top_imagenet.weights.h5")
    ap.add_argument("--gradcam", default="none")
    args = ap.parse_args()
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = build_model(args.weights, tmp)
        proc = subprocess.run([sys.executable, "-c", FLOOR, str(model), str(args.data)], cwd=REPO,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        floor_total, model_only = map(float, proc.stdout.split()[-2:])
        cold = timed_run(model, args.data, tmp / "run1", tmp / "cache", args.gradcam)
        warm = timed_run(model, args.data, tmp / "run2", tmp / "cache", args.gradcam)
    n = 108 * 31
    print(f"images x variants           : 108 x 31 = {n}")
    print(f"forward passes only         : {model_only:7.2f} s  ({n / model_only:.0f} images/s)")
    print(f"floor (TF import + forward) : {floor_total:7.2f} s  (whole process, incl. model load + decode)")
    print(f"harness run, cold           : {cold:7.2f} s  (gradcam {args.gradcam})")
    print(f"harness run, warm (cached)  : {warm:7.2f} s")
    print(f"cold / floor                : {cold / floor_total:7.2f}x   (goal <= 1.2x, limit 1.5x)")
    print(f"cold / warm                 : {cold / warm:7.2f}x   (at least 5x)")


if __name__ == "__main__":
    main()
