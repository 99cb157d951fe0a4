"""Cached batched prediction.

:func:`predict_cached` runs a :class:`harness.models.open.LoadedModel` only on the images whose
prediction is not in the cache, and stores each finished batch, so that a second audit costs almost
nothing and a killed one resumes. Nothing here imports TensorFlow: a run whose predictions are all
cached never loads it.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from harness.cache import ArrayCache
from harness.models.outputs import OUTPUT_KINDS

def cached_predictions(model, *, image_keys: Sequence[str], variant: str,
                       cache: ArrayCache) -> tuple[np.ndarray, list[int]]:
    """The cached predictions of ``image_keys`` (NaN where absent or malformed) and the
    positions of those missing: what :func:`predict_cached` would compute."""
    keys = [f"{k}|{model.cache_tag}" for k in image_keys]
    hits = cache.get_many(f"{model.hash}/{variant}", keys)
    kclass = bool(getattr(model, "kclass", False))
    width = len(model.spec.class_names) if kclass else 1
    out = np.full((len(keys), width), np.nan, dtype=np.float64)
    for i, key in enumerate(keys):
        value = hits.get(key)
        if value is not None and value.size == width and value.dtype.kind in "fiu":
            out[i] = value.ravel()
    missing = np.flatnonzero(~np.isfinite(out).all(axis=1)).tolist()  # absent, malformed
    return (out if kclass else out[:, 0]), missing


def predict_cached(
    model,  # a harness.models.open.LoadedModel
    images: np.ndarray | Callable[[], np.ndarray],
    *,
    image_keys: Sequence[str],
    variant: str,
    cache: ArrayCache,
    batch_size: int = 32,
    progress: bool = False,
    positions: Sequence[int] | None = None,
) -> np.ndarray:
    """Positive-class probabilities of a batch, computed only for images not in the cache.

    Parameters
    ----------
    model : LoadedModel
        The model (loaded lazily: nothing is imported when every prediction is cached).
    images : np.ndarray or callable
        uint8 (N, H, W, 3) at ``model.spec.input_size``, or a zero-argument callable returning
        that batch (called only when some prediction is missing, so that a perturbation is applied
        only when needed).
    image_keys : sequence of str
        One content key per image (the image's hash plus its resize spec, as the caller makes it).
    variant : str
        Canonical spec string of the perturbation (``"clean"`` for none).
    cache : ArrayCache
        Where predictions live; ``ArrayCache(None)`` computes everything.
    batch_size : int
        Forward batch size; the cache is written after every batch (a killed run resumes).
    progress : bool
        Show a tqdm bar over the images being computed.
    positions : sequence of int, optional
        Each image's position in the dataset. The missing images are then run in the forward
        batches their positions give them (positions ``32k .. 32k+31`` together at batch size
        32), each at its own place in the batch (``LoadedModel.predict_proba``'s ``slots``), so
        that a prediction is the same bits however the dataset was cut into chunks, whichever
        images were already cached, and on whichever engine.

    Returns
    -------
    np.ndarray
        float64 (N,), row-aligned with ``image_keys``; for a K-class model (``model.kclass``) the
        probability of every class, (N, K) in ``model.spec.class_names`` order.

    Notes
    -----
    Entries live in namespace ``f"{model.hash}/{variant}"`` under
    ``f"{image_key}|{model.cache_tag}"``; the tag covers the sidecar settings that change the
    number (preprocessing, input size, class names, positive class, output mode). The model's
    output kind is stored beside them, so a fully cached run reports the same ``output_kind``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(image_keys)
    namespace = f"{model.hash}/{variant}"
    tag = model.cache_tag
    keys = [f"{k}|{tag}" for k in image_keys]
    kclass = bool(getattr(model, "kclass", False))
    out, missing = cached_predictions(model, image_keys=image_keys, variant=variant, cache=cache)

    # The output kind decided when these entries were computed: adopted so that a cached or
    # resumed run reports (and, for the missing images, uses) the same one.
    meta_ns = f"{model.hash}/#output_kind"
    stored = cache.get_many(meta_ns, [tag]).get(tag)
    if model.output_kind is None and stored is not None and stored.size == 1 \
            and str(stored.reshape(())) in OUTPUT_KINDS:
        model.adopt_output_kind(str(stored.reshape(())))
    if not missing:
        return out

    batch = images() if callable(images) else images
    if len(batch) != n:
        raise ValueError(f"got {len(batch)} images for {n} image_keys")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(missing), desc=f"predict {variant}", unit="img", leave=False)
    try:
        for idx in _groups(missing, positions, batch_size):
            where = {} if positions is None else {
                "slots": np.asarray(positions)[idx] % batch_size}
            if kclass:
                p = model.predict_class_probabilities(batch[idx], batch_size=batch_size, **where)
                cache.put_many(namespace, {keys[i]: v.copy() for i, v in zip(idx, p)})
            else:
                p = model.predict_proba(batch[idx], batch_size=batch_size, **where)
                cache.put_many(namespace, {keys[i]: np.float64(v) for i, v in zip(idx, p)})
            out[idx] = p
            if stored is None and model.output_kind is not None:
                stored = np.array(model.output_kind)
                cache.put_many(meta_ns, {tag: stored})
            if bar is not None:
                bar.update(len(idx))
    finally:
        if bar is not None:
            bar.close()
    return out


def _groups(missing: list[int], positions: Sequence[int] | None, batch_size: int):
    """The missing images' forward batches: ``batch_size`` at a time, or, with ``positions``,
    those sharing a forward batch of the dataset (``position // batch_size``)."""
    if positions is None:
        for start in range(0, len(missing), batch_size):
            yield np.asarray(missing[start:start + batch_size])
        return
    pos = np.asarray(positions, dtype=np.int64)
    group: list[int] = []
    for i in missing:
        if group and pos[i] // batch_size != pos[group[-1]] // batch_size:
            yield np.asarray(group)
            group = []
        group.append(i)
    if group:
        yield np.asarray(group)
