"""The thumbnails stage: the small JPEGs the report shows (``RUN/thumbs/``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.explain.overlays import overlay
from harness.pipeline.gradcam import GALLERY_OVERLAYS, GradCamResult
from harness.pipeline.ladder import PerturbedImages
from reports.assets import save_thumbnail


def write_thumbnails(*, out: Path, images: np.ndarray, variants: list, groups: np.ndarray,
                     perturbed: PerturbedImages, gradcam: GradCamResult) -> None:
    """Every clean image, one strip image per group across the ladder, and Grad-CAM overlays
    (clean, and the highest severity of each family) for the gallery."""
    for i in range(len(images)):
        save_thumbnail(out, f"clean/{i}", images[i])
    strip = sorted({int(np.flatnonzero(groups == g)[0]) for g in set(groups.tolist())})
    for variant in variants:
        for i, image in zip(strip, perturbed.subset(variant, strip)):
            save_thumbnail(out, f"{variant.name}/{i}", image)
    if gradcam.clean is None:
        return
    shown = gradcam.selected[:GALLERY_OVERLAYS]
    for t, i in enumerate(shown):
        save_thumbnail(out, f"gradcam/clean/{int(i)}", overlay(images[i], gradcam.clean[t]))
    by_name = {v.name: v for v in variants}
    for name, maps in gradcam.kept.items():
        imgs = perturbed.subset(by_name[name], shown)
        for t, i in enumerate(shown):
            save_thumbnail(out, f"gradcam/{name}/{int(i)}", overlay(imgs[t], maps[t]))
