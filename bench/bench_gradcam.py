"""Grad-CAM throughput beside the plain forward pass, on real DermNet NZ images.

The model is the DermaTrace architecture (MobileNetV2 nested as a sub-model of a Functional
model, ImageNet backbone weights from ../shared/data/weights, preprocessing in the graph, one
sigmoid unit) at 224 x 224. Prints images/s for: the compiled forward pass, Grad-CAM and
Grad-CAM++ at the found layer (the last feature map), Grad-CAM at an earlier layer, and the drift
metrics between two heatmap batches; then the cost per image of occlusion saliency
(:mod:`harness.explain.occlusion`, the explanation for models without gradients) over the same
compiled forward pass, at 4 x 4 and 8 x 8 patches.

    .venv/bin/python bench/bench_gradcam.py [--images 108] [--batch-size 32] [--repeats 5]
                                            [--occlusion-images 4]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_HOME", str(Path(tempfile.gettempdir()) / "dermatrace-bench-keras"))

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("DERMATRACE_SHARED_DATA", REPO.parent / "shared" / "data"))
WEIGHTS = SHARED / "weights" / "mobilenet_v2_1.0_224_no_top_imagenet.weights.h5"


def build_model(size: int = 224):
    """The classifier under audit: MobileNetV2 nested in a Functional model (tests/conftest.py)."""
    from tests.conftest import build_nested_mobilenet

    return build_nested_mobilenet(WEIGHTS, input_size=size)


def load_images(n: int, size: int = 224):
    import cv2
    import numpy as np

    files = sorted((SHARED / "dermnetnz_eczema_ad" / "test").glob("*/*.jpg"))[:n]
    images = []
    for f in files:
        bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
        images.append(cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (size, size),
                                 interpolation=cv2.INTER_AREA))
    return np.stack(images)


def best_rates(fns: dict, n_images: int, repeats: int) -> dict[str, float]:
    """images/s of each function, best of ``repeats``; the functions take turns in every round so
    that a change in machine load hits all of them alike."""
    for fn in fns.values():
        fn()  # warm-up: tracing and first-touch allocations
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return {name: n_images / t for name, t in best.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=108)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--occlusion-images", type=int, default=4)
    args = ap.parse_args()

    import numpy as np
    import tensorflow as tf

    from harness.explain.attention import drift
    from harness.explain.gradcam import GradCam

    images = load_images(args.images)
    n, bs = len(images), args.batch_size
    model = build_model()

    @tf.function(input_signature=[tf.TensorSpec((bs, 224, 224, 3), tf.float32)])
    def forward(x):
        return model(x, training=False)

    def run_forward():
        for s in range(0, n, bs):
            chunk = images[s: s + bs].astype(np.float32)
            if len(chunk) < bs:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], bs - len(chunk), axis=0)])
            forward(chunk).numpy()

    t0 = time.perf_counter()
    cam = GradCam(model)
    t_build = time.perf_counter() - t0
    cam_pp = GradCam(model, plus=True)
    cam_early = GradCam(model, layer="block_13_expand_relu")

    print(f"images: {n} DermNet NZ test images at 224x224, batch {bs}, "
          f"{os.cpu_count()} CPUs, TF {tf.__version__}")
    print(f"layer found: {cam.layer_name} (target: {cam.target}); gradient model built in "
          f"{t_build:.2f} s")
    fns = {"forward pass (compiled)": run_forward}
    for label, c in (("Grad-CAM   @ " + cam.layer_name, cam),
                     ("Grad-CAM++ @ " + cam_pp.layer_name, cam_pp),
                     ("Grad-CAM   @ " + cam_early.layer_name, cam_early)):
        fns[label] = lambda c=c: c.heatmaps(images, batch_size=bs)
    rates = best_rates(fns, n, args.repeats)
    fwd = rates["forward pass (compiled)"]
    for label, r in rates.items():
        extra = "" if label.startswith("forward") else f"  ({fwd / r:.2f}x the forward pass time)"
        print(f"{label:<52s} {r:8.1f} images/s{extra}")
    a = cam.heatmaps(images, batch_size=bs)
    b = cam.heatmaps(images[:, :, ::-1].copy(), batch_size=bs)
    r = best_rates({"drift": lambda: drift(a, b, size=(224, 224))}, n, args.repeats)["drift"]
    print(f"{'drift metrics (6 per image, 224x224)':<52s} {r:8.1f} images/s")
    bench_occlusion(images[: args.occlusion_images], forward, bs, fwd)


def bench_occlusion(images, forward, bs: int, forward_rate: float) -> None:
    """Seconds per image of occlusion maps through the compiled forward pass."""
    import numpy as np

    from harness.explain.attention import drift
    from harness.explain.occlusion import occlusion_map

    def predict(batch):  # the positive class's probability; pads to the traced batch size
        m = len(batch)
        x = batch.astype(np.float32)
        if m < bs:
            x = np.concatenate([x, np.zeros((bs - m, *x.shape[1:]), np.float32)])
        return forward(x).numpy()[:m, 0]

    n = len(images)
    for grid in (4, 8):
        occlusion_map(images[:1], predict, class_index=1, grid=grid, batch_size=bs)  # warm-up
        t0 = time.perf_counter()
        maps = occlusion_map(images, predict, class_index=1, grid=grid, batch_size=bs)
        per_image = (time.perf_counter() - t0) / n
        passes = grid * grid + 1
        print(f"{f'occlusion {grid}x{grid} (blur, {passes} forward passes/image)':<52s} "
              f"{per_image:8.2f} s/image  ({per_image * forward_rate:.0f}x one forward pass; "
              f"{n} images, batch {bs})")
    again = occlusion_map(images, predict, class_index=1, grid=8, batch_size=bs)
    print(f"{'occlusion 8x8 twice: drift cosine (identity)':<52s} "
          f"{np.nanmin(drift(maps, again, size=(224, 224))['cosine']):8.4f}")


if __name__ == "__main__":
    main()
