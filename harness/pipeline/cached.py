"""Named per-image measures kept in the cache (a variant's achieved deltas, Grad-CAM drift)."""
from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from harness.cache import ArrayCache


def cached_fields(cache: ArrayCache, namespace: str, image_keys: list[str],
                  compute: Callable[[], Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Named per-image measures, cached by image: one float vector per image, the measure names
    under ``#fields``. ``compute()`` runs only when some image is missing."""
    found = cache.get_many(namespace, ["#fields", *image_keys])
    names = found.get("#fields")
    if names is not None and all(k in found for k in image_keys):
        names = [str(x) for x in names.tolist()]
        table = np.stack([found[k] for k in image_keys]).astype(float)
        if table.ndim == 2 and table.shape[1] == len(names):
            return {name: table[:, j] for j, name in enumerate(names)}
    fields = compute()
    names = sorted(fields)
    table = np.stack([np.asarray(fields[name], dtype=np.float64) for name in names], axis=1)
    items = {"#fields": np.asarray(names)}
    items.update({key: table[i] for i, key in enumerate(image_keys)})
    cache.put_many(namespace, items)
    return {name: table[:, j].copy() for j, name in enumerate(names)}
