"""``python -m harness perturb D --out DIR [--perturbations ...] [--severities ...] [--preview]``.

Writes ``DIR/<family>@<severity>/<path relative to D>`` for every usable image of D and every
variant of the ladder, and with ``--preview`` ``DIR/preview.png`` (three images spread over D:
rows = family x image, columns = clean and each severity).

Output size: with ``--size S`` every image is first resized to S x S exactly as an audit feeds a
model of input size S (``harness.data.load.load_dataset``), so the files show what such a model sees.
Without it each image keeps its original size (EXIF-oriented). Pixel-sized parameters (blur
sigma, defocus radius, motion length) are in pixels of the image as written, so a blur looks
milder on a 640 px original than on the 224 px input of a model: pass ``--size`` to see the latter.

Files keep their relative path and extension: PNG, BMP and TIFF losslessly; JPEG at quality 95
without chroma subsampling (a re-encoding the ``jpeg`` family's files also carry); WebP
losslessly; any other format (GIF, ...) as PNG with ``.png`` appended. Regional families
(redness, skin tone) act on the skin and lesion region found by ``subgroups`` when that package
provides ``skin_mask`` and ``lesion_mask``, on the whole image otherwise. Stochastic families are
seeded per image from ``--seed`` and the file's content hash, as in ``harness run``. The same
command writes the same bytes.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from harness.config import parse_list, parse_severities
from harness.errors import UserError
from perturbations.preview import preview_grid
from perturbations.registry import Variant, apply, families as preset_families, ladder

CHUNK = 32  # images perturbed at once (bounds memory at original sizes)
PREVIEW_IMAGES = 3
_ENCODERS = {
    ".jpg": [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444],
    ".jpeg": [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444],
    ".png": [cv2.IMWRITE_PNG_COMPRESSION, 6],
    ".bmp": [],
    ".tif": [],
    ".tiff": [],
    ".webp": [cv2.IMWRITE_WEBP_QUALITY, 101],
}


def region_masker() -> Callable[[np.ndarray], np.ndarray | None]:
    """``f(image) -> bool (H, W)`` skin-and-lesion region from ``subgroups``, or ``None`` for the
    whole image when ``subgroups`` does not provide the masks."""
    try:
        from subgroups import load_config
        from subgroups.mask import analyse_image
    except ImportError:
        return lambda image: None
    params = load_config().mask  # the packaged skin-tone settings, read once

    def region(image: np.ndarray) -> np.ndarray:
        found = analyse_image(image, params)
        return found.skin | found.lesion

    return region


def output_path(out: Path, variant: Variant, rel: str) -> Path:
    """Where ``rel`` (posix, relative to the data root) is written for ``variant``."""
    path = out / variant.name / Path(rel)
    if path.suffix.lower() not in _ENCODERS:
        path = path.with_name(path.name + ".png")
    return path


def encode(image: np.ndarray, suffix: str) -> bytes:
    """uint8 RGB -> the bytes of an image file of type ``suffix`` (deterministic)."""
    ok, buf = cv2.imencode(suffix.lower(), np.ascontiguousarray(image[..., ::-1]), _ENCODERS[suffix.lower()])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {suffix} image")
    return buf.tobytes()


def _batches(ds, size: int | None) -> Iterator[tuple[list[int], np.ndarray]]:
    """(indices, uint8 batch) in file order; at original size, runs of equal-sized images."""
    n = len(ds.files)
    if size is not None:
        for start in range(0, n, CHUNK):
            idx = list(range(start, min(n, start + CHUNK)))
            yield idx, ds.images[idx]
        return
    from harness.data.decode import decode_image

    run: list[int] = []
    run_images: list[np.ndarray] = []
    for i, rel in enumerate(ds.files):
        image = decode_image(Path(ds.root) / rel, size=None)
        if run_images and (image.shape != run_images[0].shape or len(run) == CHUNK):
            yield run, np.stack(run_images)
            run, run_images = [], []
        run.append(i)
        run_images.append(image)
    if run:
        yield run, np.stack(run_images)


def _preview_indices(n: int) -> list[int]:
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, min(PREVIEW_IMAGES, n))})


def run_perturb(*, data: str, out: str, families: list[str] | None, severities: list[int] | None,
                preview: bool, seed: int, size: int | None, quiet: bool) -> int:
    """Write the perturbation ladder of the images in ``data`` under ``out``; 0 when done.

    Parameters
    ----------
    data : str
        A dataset as ``harness.data.load.load_dataset`` reads it (folder or CSV manifest).
    out : str
        Output folder (created; existing files of the same names are overwritten).
    families : list of str or None
        Family or preset names; None = the ``clinical`` preset.
    severities : list of int or None
        Severities 0..5; None = 1..5.
    preview : bool
        Also write ``out/preview.png``.
    seed : int
        Seed of the stochastic families.
    size : int or None
        Resize every image to size x size first; None keeps each image's original size.
    quiet : bool
        No progress bar and no summary line.
    """
    from harness.data.load import load_dataset

    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 8):
        raise UserError(f"--size: expected a whole number of pixels of at least 8, got {size!r}")
    variants = ladder(families if families is not None else preset_families("clinical"),
                      severities if severities is not None else [1, 2, 3, 4, 5])
    if not variants:
        raise UserError("--perturbations: nothing to write (no family or no severity given); "
                        "name at least one family and one severity")
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out: {out} exists and is not a folder; give a folder to write into")
    progress = not quiet and sys.stderr.isatty()
    # At original size the loader still lists, validates and hashes the files (its thumbnails at
    # 32 x 32 are cheap and unused); each image is then decoded again at its own size.
    ds = load_dataset(data, size=(size, size) if size is not None else (32, 32), progress=progress)
    masker = region_masker()
    needs_masks = any(v.uses_mask for v in variants)
    keep = set(_preview_indices(len(ds.files))) if preview else set()
    kept: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(ds.files) * len(variants), unit="img", desc="perturb")
    written = 0
    for idx, batch in _batches(ds, size):
        masks = None
        if needs_masks:
            found = [masker(image) for image in batch]
            masks = None if any(m is None for m in found) else np.stack(found)
        ids = [ds.image_hashes[i] for i in idx]
        for variant in variants:
            perturbed = apply(variant, batch, masks=masks, seed=seed, image_ids=ids)
            for j, i in enumerate(idx):
                path = output_path(out_dir, variant, ds.files[i])
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(encode(perturbed[j], path.suffix))
                written += 1
            if bar is not None:
                bar.update(len(idx))
        for j, i in enumerate(idx):
            if i in keep:
                kept[i] = (batch[j], None if masks is None else masks[j])
    if bar is not None:
        bar.close()

    if preview:
        order = sorted(kept)
        grid = preview_grid([kept[i][0] for i in order], list(dict.fromkeys(v.family for v in variants)),
                            sorted({v.severity for v in variants}),
                            masks=[kept[i][1] for i in order], seed=seed,
                            image_ids=[ds.image_hashes[i] for i in order])
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "preview.png").write_bytes(encode(grid, ".png"))
    if not quiet:
        skipped = f"; {len(ds.skipped)} file(s) skipped" if ds.skipped else ""
        shown = f"; preview: {out_dir / 'preview.png'}" if preview else ""
        print(f"wrote {written} images ({len(variants)} variants x {len(ds.files)} files) "
              f"to {out_dir}{skipped}{shown}")
    return 0


def perturb(*, data: str, out: str, perturbations: str | None, severities: str | None,
            preview: bool, seed: int, size: int | None, quiet: bool) -> int:
    """The command as the CLI calls it: parse the option strings, then :func:`run_perturb`."""
    families = list(parse_list(perturbations, option="--perturbations")) if perturbations else None
    sev = list(parse_severities(severities)) if severities else None
    return run_perturb(data=data, out=out, families=families, severities=sev, preview=preview,
                       seed=seed, size=size, quiet=quiet)
