"""How far Grad-CAM and occlusion agree, and what occlusion costs, on a Keras model that has both.

    .venv/bin/python bench/bench_explainers.py --model M.keras [--data DIR] [--images 108]
                                               [--grid 7] [--batch-size 32]

For a model with gradients (a ``.keras`` file whose sidecar sits beside it, e.g. the DermaTrace
classifier from ``harness train --recipe linear-head --input-size 224``), on the DermNet NZ test
images (default ``$DERMATRACE_SHARED_DATA`` or ``../shared/data``,
``dermnetnz_eczema_ad/test``): the Grad-CAM heatmap (the audit's layer and class, the positive
class) and the occlusion map (the audit's: ``grid`` x ``grid`` patches, blurred baseline) of each
image, both brought to the occlusion grid (area average of the upsampled map when the grids
differ), and per image their Spearman rank correlation (ties get average ranks, as the drift
measures do), cosine similarity and IoU of the top 20% of pixels. Prints the median and IQR over
the images (an all-zero map on either side leaves its image undefined, counted), then the cost of
each method per image: milliseconds and forward passes. Numbers only; nothing is asserted.
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
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
SHARED = Path(os.environ.get("DERMATRACE_SHARED_DATA", REPO.parent / "shared" / "data"))


def to_grid(maps: np.ndarray, shape: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Heatmaps on their native grid -> the ``shape`` grid: upsampled to the image ``size``
    (as the drift measures do), then averaged over each cell."""
    import cv2

    from harness.explain.attention import upsample

    if maps.shape[1:] == tuple(shape):
        return maps.astype(np.float32)
    up = upsample(maps, size=size, dtype=np.float32)
    return np.stack([cv2.resize(m, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
                     for m in up])


def quartiles(values: np.ndarray) -> str:
    ok = values[np.isfinite(values)]
    if not ok.size:
        return "undefined for every image"
    q25, q50, q75 = np.percentile(ok, [25, 50, 75])
    return (f"median {q50:.3f}, IQR {q25:.3f}-{q75:.3f} ({q75 - q25:.3f}), n={ok.size}"
            f"{f', undefined {values.size - ok.size}' if values.size > ok.size else ''}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, required=True, help="a .keras model with its sidecar")
    ap.add_argument("--data", type=Path, default=SHARED / "dermnetnz_eczema_ad" / "test")
    ap.add_argument("--images", type=int, default=108)
    ap.add_argument("--grid", type=int, default=None, help="occlusion patches per side "
                    "(default: the audit's)")
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args(argv)

    from harness.data.load import load_dataset
    from harness.explain.attention import drift
    from harness.explain.gradcam import GradCam
    from harness.explain.occlusion import DEFAULT_GRID, Occlusion, forward_batch
    from harness.models.open import open_model

    grid = args.grid or DEFAULT_GRID
    model = open_model(str(args.model))
    width, height = model.spec.input_size
    ds = load_dataset(args.data, size=(width, height))
    images = ds.images[: args.images]
    n = len(images)
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    print(f"model {args.model} ({model.format}, {width}x{height}, positive class "
          f"{model.spec.positive_class!r}); {n} images from {args.data}")

    cam = GradCam(model.keras_model(), preprocess=model.preprocess)
    class_index = list(model.spec.class_names).index(model.spec.positive_class)
    passes = Occlusion(model.predict_proba, grid=grid).passes_per_image(height, width)
    size = forward_batch(passes, args.batch_size)  # as the audit runs it
    occ = Occlusion(lambda batch: model.predict_proba(batch, batch_size=size), grid=grid)

    cam.heatmaps(images[:2], class_index=class_index, batch_size=args.batch_size)  # trace
    occ.heatmaps(images[:1], batch_size=passes)  # warm-up
    t0 = time.perf_counter()
    g = cam.heatmaps(images, class_index=class_index, batch_size=args.batch_size)
    t_cam = time.perf_counter() - t0
    t0 = time.perf_counter()
    o = occ.heatmaps(images, batch_size=passes)
    t_occ = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.predict_proba(images, batch_size=args.batch_size)
    t_fwd = time.perf_counter() - t0

    shape = o.shape[1:]
    d = drift(to_grid(g, shape, (height, width)), o, size=(height, width))
    print(f"\nGrad-CAM ({cam.key()}, native grid {g.shape[1]}x{g.shape[2]}) against "
          f"{occ.label()} on the {shape[0]}x{shape[1]} grid, per image:")
    for metric in ("spearman", "cosine", "iou_top20"):
        print(f"  {metric:<10} {quartiles(d[metric])}")
    zero_cam = int((g.reshape(n, -1).max(axis=1) <= 0).sum())
    zero_occ = int((o.reshape(n, -1).max(axis=1) <= 0).sum())
    print(f"  all-zero maps: Grad-CAM {zero_cam}, occlusion {zero_occ} of {n}")

    print(f"\ncost per image (batch {args.batch_size}, {n} images):")
    print(f"  forward pass   {t_fwd / n * 1e3:8.1f} ms ({n / t_fwd:.1f} images/s)")
    print(f"  Grad-CAM       {t_cam / n * 1e3:8.1f} ms ({t_cam / t_fwd:.1f} forward passes' time)")
    print(f"  occlusion      {t_occ / n * 1e3:8.1f} ms ({passes} forward passes in batches of "
          f"{size}: "
          f"{t_occ / t_fwd:.1f} forward passes' time, {t_occ / t_cam:.1f}x Grad-CAM)")
    from harness.pipeline.gradcam import OCCLUSION_AUTO_PASSES, auto_images

    k = auto_images(30, passes_per_map=passes)
    print(f"  --gradcam auto with the clinical ladder (30 variants): occlusion on {k} images "
          f"({OCCLUSION_AUTO_PASSES} forward passes), about "
          f"{k * 33 * t_occ / n / 60:.1f} min here; Grad-CAM on {auto_images(30)} images")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
