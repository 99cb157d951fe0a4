"""The streamed pass: every image's per-image work, a chunk at a time, leaving a per-image table.

The dataset is planned (no image decoded), then cut into chunks of ``cfg.chunk_size`` candidates;
an engine (``engines``) runs each chunk's work (``chunks``: decode, skin tone, masks, every
variant's perturbation, its prediction and what it achieved, the clean thumbnail) and hands back
per-image numbers in chunk order. Only those accumulate: the memory of the pass is bounded by the
chunk, the workers and the variants, not by the dataset. The dataset summary, labels, skin-tone
table, probabilities and achieved deltas are then assembled in dataset order, exactly as the
in-memory stages made them, so every later stage (metrics, Grad-CAM, results) reads the same.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.cache import ArrayCache
from harness.config import AuditConfig
from harness.data.arrays import ArrayData
from harness.data.source import ImageSource, open_source
from harness.models.open import LoadedModel, open_model
from harness.models.outputs import explained_class_probability, top_class_index
from harness.pipeline.chunks import ChunkJob
from harness.pipeline.inputs import AuditData, labels_of
from harness.pipeline.ladder import variant_entry
from harness.pipeline.predictions import Predictions
from harness.pipeline.timer import Timer
from harness.results.io import atomic_write_bytes
from reports.assets import thumbnail_path


@dataclass(frozen=True)
class Streamed:
    """What the streamed pass found.

    Attributes
    ----------
    data : AuditData
        The dataset (without pixels), the model, labels and cache keys, as ``data_stage`` gives.
    tone : DataFrame
        Every image's skin tone (``subgroups.estimate_skin_tone``'s columns), in dataset order.
    predictions : Predictions
        Probabilities of every variant and the ladder's record (``predictions_stage``'s).
    source : ImageSource
        Where the images are, to read some of them again (:class:`harness.pipeline.revisit.Revisit`).
    entry_of : ndarray
        Dataset position -> the source's candidate index.
    """

    data: AuditData
    tone: pd.DataFrame
    predictions: Predictions
    source: ImageSource
    entry_of: np.ndarray


def plan_stage(cfg: AuditConfig, *, model: LoadedModel, cache: ArrayCache,
               timer: Timer) -> tuple[ImageSource, LoadedModel]:
    """Plan ``cfg.data`` at the model's input size (bad paths, manifests and labels stop here,
    before any image is decoded), and the model's view once the dataset's labels are known."""
    spec = model.spec
    with timer.stage("load_data"):
        allowed = None if (model.binary_view or not spec.class_names) else spec.class_names
        data_root = Path(cfg.data_root) if cfg.data_root and not isinstance(cfg.data, ArrayData) \
            else None
        source = open_source(cfg.data, size=tuple(spec.input_size), allowed_labels=allowed,
                             data_root=data_root)
    # Rebuild the model's view now that the dataset's labels are known (class names inferred).
    if spec.extra.get("needs_dataset_labels"):
        model = open_model(cfg.model, spec_path=cfg.model_spec, positive_class=cfg.positive_class,
                           trust=cfg.trust_model, dataset_labels=source.planned_labels,
                           cache=cache)
    return source, model


def stream_stage(cfg: AuditConfig, *, source: ImageSource, model: LoadedModel, variants: list,
                 engine, cache: ArrayCache, out: Path, timer: Timer, progress: bool,
                 log: Callable[[str], None]) -> Streamed:
    """Run every chunk through ``engine`` and assemble the per-image table (module docstring).
    Clean thumbnails are written as their chunks come back (``cfg.thumbnails``)."""
    job = ChunkJob(source=source, variants=tuple(variants), skin_tone=cfg.skin_tone,
                   scheme=cfg.skin_tone_scheme, seed=cfg.seed, thumbnails=cfg.thumbnails,
                   batch_size=cfg.batch_size)
    n = len(source)
    chunks = [list(range(i, min(i + cfg.chunk_size, n))) for i in range(0, n, cfg.chunk_size)]
    decoded, keys, tones = [], [], []
    probs: dict[str, list[np.ndarray]] = {}
    achieved: dict[str, dict[str, list[np.ndarray]]] = {v.name: {} for v in variants}
    bar = _bar(n, progress)
    written = 0
    try:
        for result in engine.run(job, chunks, model=model, cache=cache):
            decoded.extend(result.decoded)
            keys.extend(result.keys)
            tones.append(result.tone)
            for name, p in result.probs.items():
                probs.setdefault(name, []).append(p)
            for name, fields in result.achieved.items():
                for field, values in fields.items():
                    achieved[name].setdefault(field, []).append(values)
            for thumb in result.thumbs or ():
                atomic_write_bytes(thumbnail_path(out, f"clean/{written}"), thumb)
                written += 1
            for stage, seconds in result.seconds.items():
                timer.seconds[stage] = round(timer.seconds.get(stage, 0.0) + seconds, 4)
            if bar is not None:
                bar.update(len(result.decoded))
    finally:
        if bar is not None:
            bar.close()
    with timer.stage("load_data"):
        ds = source.dataset(decoded)  # no usable image: UserError here
    for s in ds.skipped:
        log(f"skipped {s.file}: {s.reason}")
    size = tuple(model.spec.input_size)
    log(f"{len(ds.files)} images from {ds.root} ({len(ds.skipped)} skipped); model {model.path} "
        f"({model.format}, input {size[0]}x{size[1]})")
    entry_of = np.asarray([i for i, d in enumerate(decoded) if d.reason is None], dtype=np.int64)
    data = AuditData(dataset=ds, model=model, y_true=labels_of(ds, model), image_keys=keys)
    tone = pd.concat(tones, ignore_index=True) if tones else pd.DataFrame()
    names = ["clean", *(v.name for v in variants)]
    width = len(model.spec.class_names) if model.kclass else None
    p = {name: _concat(probs.get(name, []), width) for name in names}
    records = [variant_entry(v, {f: np.concatenate(vals)
                                 for f, vals in achieved[v.name].items()}) for v in variants]
    if not model.kclass:
        preds = Predictions(p=p, variants=records)
    else:
        top = {name: explained_class_probability(P, top_class_index(P)) for name, P in p.items()}
        preds = Predictions(p=top, variants=records, class_probs=p)
    return Streamed(data=data, tone=tone, predictions=preds, source=source, entry_of=entry_of)


def _concat(parts: list[np.ndarray], width: int | None) -> np.ndarray:
    if parts:
        return np.concatenate(parts)
    return np.zeros((0, width) if width else (0,), dtype=np.float64)


def _bar(total: int, progress: bool):
    if not progress or not total:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="audit", unit="img")
