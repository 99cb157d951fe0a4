"""The thumbnails stage: the small JPEGs the report shows (``RUN/thumbs/``).

Every clean image's thumbnail is written during the streamed pass (``stream``); this stage adds
the strips (the first image of each group across the ladder) and the Grad-CAM gallery, reading
just those images back.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.explain.overlays import overlay
from harness.pipeline.gradcam import GALLERY_OVERLAYS, GradCamResult
from harness.pipeline.revisit import Revisit
from reports.assets import save_thumbnail


def strip_images(groups: np.ndarray) -> list[int]:
    """The images of the report's strips: the first image of each group, in dataset order."""
    return sorted({int(np.flatnonzero(groups == g)[0]) for g in set(groups.tolist())})


def write_thumbnails(*, out: Path, revisit: Revisit, variants: list, groups: np.ndarray,
                     gradcam: GradCamResult) -> None:
    """One strip image per group across the ladder, and Grad-CAM overlays (clean, and the
    highest severity of each family) for the gallery."""
    strip = strip_images(groups)
    if variants and strip:
        visit = revisit(strip)
        for variant in variants:
            for i, image in zip(strip, visit.perturbed(variant)):
                save_thumbnail(out, f"{variant.name}/{i}", image)
        visit.perturbed.release()
    if gradcam.clean is None:
        return
    shown = gradcam.selected[:GALLERY_OVERLAYS]
    visit = revisit(shown)
    for t, i in enumerate(shown):
        save_thumbnail(out, f"gradcam/clean/{int(i)}", overlay(visit.images[t], gradcam.clean[t]))
    by_name = {v.name: v for v in variants}
    for name, maps in gradcam.kept.items():
        imgs = visit.perturbed(by_name[name])
        for t, i in enumerate(shown):
            save_thumbnail(out, f"gradcam/{name}/{int(i)}", overlay(imgs[t], maps[t]))
