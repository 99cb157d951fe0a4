"""The Grad-CAM drift stage: heatmaps on a selection of images, where the model looks, the noise
floor of the method, and how much each perturbation moves the heatmaps.

The explainer is Grad-CAM where the model has gradients (a Keras graph) and occlusion where it
has none (ONNX, TFLite, SavedModel, callables) or where Grad-CAM cannot run on it (no spatial
feature map): the same selection, drift measures, noise floor, attention shares and cache, and
the section's ``explainer`` says which ran. Every heatmap and per-image drift value is cached by
model, method and its parameters (layer, or grid and baseline), class and image; a run whose
heatmaps are all cached never loads the model (nor imports TensorFlow).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import subgroups
from harness.cache import ArrayCache
from harness.config import AuditConfig
from harness.errors import NotAvailable
from harness.explain.attention import (DRIFT_METRICS, DRIFT_VERSION, attention_shares, drift,
                                       noise_floor, summarise_drift)
from harness.explain.gradcam import GradCam
from harness.explain.occlusion import Occlusion, forward_batch
from harness.models.open import LoadedModel
from harness.models.outputs import top_class_index
from harness.pipeline.cached import cached_fields
from harness.pipeline.ladder import variant_key
from harness.pipeline.revisit import Revisit
from harness.pipeline.timer import Timer, progress_bar
from harness.results.io import value_summary

# Grad-CAM "auto": every image when the heatmaps of all variants stay within this many images.
GRADCAM_AUTO_BUDGET = 4000
# Occlusion "auto": every image while its maps (clean, each variant, and the noise floor's two)
# stay within this many forward passes, else about that many (bench/bench_explainers.py).
OCCLUSION_AUTO_PASSES = 20_000
# Grad-CAM overlays saved per variant for the report's gallery.
GALLERY_OVERLAYS = 24
# Selected images read back and explained at a time (memory is bounded by this, not by the
# selection): a multiple of the default batch size.
PART = 128


@dataclass(frozen=True)
class GradCamResult:
    """What the Grad-CAM stage found.

    Attributes
    ----------
    section : dict
        The ``gradcam`` section of results.json (``available`` False with a ``reason`` when it
        did not run).
    clean : ndarray or None
        Heatmaps of the selected clean images, (n, h, w) float32.
    selected : ndarray or None
        Indices of the selected images.
    kept : dict
        Variant name -> heatmaps of its first :data:`GALLERY_OVERLAYS` selected images, for the
        highest severity of each family (the report's gallery).
    """

    section: dict[str, Any]
    clean: np.ndarray | None = None
    selected: np.ndarray | None = None
    kept: dict[str, np.ndarray] = field(default_factory=dict)


class LazyGradCam:
    """A Grad-CAM explainer built only when a heatmap is missing from the cache.

    The layer it finds and its cache key are remembered by model hash, so that a run whose
    heatmaps are all cached never loads the model (nor imports TensorFlow).
    """

    def __init__(self, model: LoadedModel, *, layer: str | None, cache: ArrayCache):
        self._model = model
        self._layer = layer
        self._cache = cache
        self._cam = None
        namespace, tag = f"{model.hash}/#gradcam", f"layer={layer or ''}|{model.cache_tag}"
        found = cache.get_many(namespace, [tag]).get(tag)
        if found is not None and found.size == 2:
            self.key, self.layer_name = (str(x) for x in found.tolist())
        else:
            cam = self.get()  # NotAvailable when the model cannot be explained
            self.key, self.layer_name = cam.key(), cam.layer_name
            cache.put_many(namespace, {tag: np.asarray([self.key, self.layer_name])})

    def get(self) -> GradCam:
        if self._cam is None:
            self._cam = GradCam(self._model.keras_model(), layer=self._layer,
                                preprocess=self._model.preprocess)
        return self._cam


def explained_class_index(model: LoadedModel) -> int:
    """The class every heatmap of a binary audit explains, on clean and perturbed images alike:
    the positive class (for one sigmoid unit, GradCam turns index 0 into the unit's negated
    score). A K-class audit explains each image's clean top class instead
    (:func:`harness.models.outputs.top_class_index`)."""
    return list(model.spec.class_names).index(model.spec.positive_class)


def auto_images(n_variants: int, *, passes_per_map: int | None = None) -> int:
    """How many images ``--gradcam auto`` explains at most: Grad-CAM (``passes_per_map`` None)
    while the heatmaps of all variants stay within :data:`GRADCAM_AUTO_BUDGET`; occlusion while
    its forward passes (``passes_per_map`` per map; maps of the clean image, each variant and the
    noise floor's two) stay within :data:`OCCLUSION_AUTO_PASSES`. At least one."""
    if passes_per_map is None:
        return max(1, GRADCAM_AUTO_BUDGET // max(1, n_variants + 1))
    return max(1, OCCLUSION_AUTO_PASSES // (max(1, passes_per_map) * (n_variants + 3)))


def gradcam_selection(mode: str, groups: np.ndarray, n_variants: int, seed: int, *,
                      passes_per_map: int | None = None) -> np.ndarray:
    """Indices of the images that get heatmaps: all, none, N, or auto.

    ``N`` below the number of images is a stratified sample of exactly N: each group's share of
    N, at least one image per group (largest remainders fill up to N); with fewer than one image
    per group, one image from each of the N largest groups. ``auto`` is every image while the
    explainer stays within its budget (:func:`auto_images`; ``passes_per_map`` for occlusion),
    else about that many: each group's share, rounded, at least one. Deterministic: the images
    of a group are drawn from a generator seeded by ``seed``, groups in sorted order.
    """
    n = len(groups)
    if mode == "none":
        return np.zeros(0, dtype=int)
    if mode == "all":
        return np.arange(n)
    if mode == "auto":
        limit = auto_images(n_variants, passes_per_map=passes_per_map)
    else:
        limit = int(mode)
    if limit >= n:
        return np.arange(n)
    names = sorted(set(groups.tolist()))
    members = [np.flatnonzero(groups == g) for g in names]
    sizes = [len(idx) for idx in members]
    if mode == "auto":
        counts = [min(size, max(1, round(limit * size / n))) for size in sizes]
    else:
        counts = exact_counts(limit, sizes)
    rng = np.random.default_rng(seed)
    chosen = []
    for idx, k in zip(members, counts):
        if k:
            chosen.extend(rng.choice(idx, size=k, replace=False).tolist())
    return np.asarray(sorted(chosen), dtype=int)


def exact_counts(total: int, sizes: list[int]) -> list[int]:
    """Images per group for a stratified sample of exactly ``total`` (below ``sum(sizes)``):
    each group's share by largest remainders, at least one image each (taken back from the
    groups most over their share); with fewer images than groups, one from each of the
    ``total`` largest. Ties go to the larger group, then to the earlier one."""
    n, groups = sum(sizes), range(len(sizes))
    if total < len(sizes):
        largest = sorted(groups, key=lambda i: (-sizes[i], i))[:total]
        return [int(i in largest) for i in groups]
    quota = [total * size / n for size in sizes]
    counts = [min(size, max(1, math.floor(q))) for size, q in zip(sizes, quota)]
    while sum(counts) > total:
        i = max((i for i in groups if counts[i] > 1),
                key=lambda i: (counts[i] - quota[i], -sizes[i], -i))
        counts[i] -= 1
    while sum(counts) < total:
        i = max((i for i in groups if counts[i] < sizes[i]),
                key=lambda i: (quota[i] - counts[i], sizes[i], -i))
        counts[i] += 1
    return counts


def _fewer_than_groups(mode: str, groups: np.ndarray) -> list[str]:
    """The groups left without a heatmap when ``--gradcam N`` is below the number of groups."""
    names = sorted(set(groups.tolist()))
    if not mode.isdigit() or int(mode) >= min(len(names), len(groups)):
        return []
    sizes = [int(np.count_nonzero(groups == g)) for g in names]
    return [g for g, k in zip(names, exact_counts(int(mode), sizes)) if k == 0]


@dataclass(frozen=True)
class _Explainer:
    """The explainer a run uses: what it is called, its cache key, and how to build it."""

    name: str  # "gradcam" or "occlusion"
    key: str
    layer_name: str | None
    get: Callable[[], Any]  # the object with heatmaps(images, class_index=, batch_size=)
    class_index: int  # the class as the explainer numbers it
    passes_per_map: int | None = None  # forward passes per occlusion map
    occlusion: Occlusion | None = None


def choose_explainer(*, cfg: AuditConfig, model: LoadedModel, cache: ArrayCache,
                     log: Callable[[str], None]) -> _Explainer:
    """Grad-CAM where the model has gradients and Grad-CAM can run on it, else occlusion.

    The same class is explained on clean and perturbed images: the positive class. For Grad-CAM
    that is its index in ``class_names`` (for one sigmoid unit, GradCam turns index 0 into the
    unit's negated score); occlusion reads ``LoadedModel.predict_proba``, the positive class's
    probability, which it explains as class 1. A K-class model (``class_index`` -1 here) is
    explained for each image's clean top class, indices the stage passes; occlusion then reads
    every class's probability (``LoadedModel.predict_class_probabilities``).
    """
    # A K-class audit explains each image's clean top class: the stage gives the indices.
    class_index = -1 if model.kclass else explained_class_index(model)
    if model.supports_gradients:
        try:
            cam = LazyGradCam(model, layer=cfg.gradcam_layer, cache=cache)
        except NotAvailable as exc:
            log(f"Grad-CAM is not available ({exc}); explaining by occlusion instead")
        else:
            return _Explainer("gradcam", cam.key, cam.layer_name, cam.get, class_index)
    width, height = (int(v) for v in model.spec.input_size)
    # occlusion reads the positive class's probability (explained as class 1), or for a K-class
    # model every class's (explained by index)
    predict = model.predict_class_probabilities if model.kclass else model.predict_proba
    passes = Occlusion(predict).passes_per_image(height, width)
    size = forward_batch(passes, cfg.batch_size)  # whole batches: a padded model wastes none
    occ = Occlusion(lambda batch: predict(batch, batch_size=size))
    return _Explainer("occlusion", occ.key(), None, lambda: occ, -1 if model.kclass else 1,
                      passes_per_map=passes, occlusion=occ)


def gradcam_stage(*, cfg: AuditConfig, model: LoadedModel, revisit: Revisit,
                  image_keys: list[str], variants: list, probs: dict[str, np.ndarray],
                  groups: np.ndarray, cache: ArrayCache, timer: Timer, progress: bool,
                  log: Callable[[str], None],
                  class_probs: dict[str, np.ndarray] | None = None) -> GradCamResult:
    """Heatmaps on a selection of images, their drift per variant, and where the model looks.

    ``cfg`` gives the selection (``gradcam``), the layer, the attention regions, the seed, the
    bootstrap size and the batch size; ``groups`` is the estimated skin-tone group per image.
    ``revisit`` reads the selected images back (:class:`harness.pipeline.revisit.Revisit`),
    :data:`PART` at a time: memory is bounded by that, not by the selection.
    ``class_probs`` (a K-class model: variant -> (N, K)): each image is explained for its clean
    top class, and a flip is a change of the top class.
    Grad-CAM explains models with gradients, occlusion the others (:func:`choose_explainer`).
    """
    if cfg.gradcam == "none":
        return GradCamResult({"available": False, "reason": "disabled (--gradcam none)"})
    if len(groups) == 0:
        return GradCamResult({"available": False, "reason": "no images selected"})
    threshold = model.spec.threshold

    with timer.stage("gradcam"):
        try:
            explainer = choose_explainer(cfg=cfg, model=model, cache=cache, log=log)
        except NotAvailable as exc:
            return GradCamResult({"available": False, "reason": str(exc)})
        sel = gradcam_selection(cfg.gradcam, groups, len(variants), cfg.seed,
                                passes_per_map=explainer.passes_per_map)
        batch = explainer.passes_per_map or cfg.batch_size  # occlusion: one image per call
        cam, step = _fixed_batch(explainer, n=sel.size, batch=batch)
        # Explain the same class on clean and perturbed images: the positive class, or for a
        # K-class model each image's clean top class.
        if class_probs is None:
            class_index = explainer.class_index
            explained = f"class={explained_class_index(model)}"
        else:
            class_index = top_class_index(class_probs["clean"][sel])
            explained = "class=top"
        # Heatmaps depend on the model file, the sidecar settings, the method with its
        # parameters (layer; grid and baseline) and the class.
        prefix = f"{model.hash}/{model.cache_tag}/{explainer.key}/{explained}"
        hw = (int(model.spec.input_size[1]), int(model.spec.input_size[0]))
        regions = {name: tuple(box) for name, box in (cfg.attention_regions or {}).items()}

        def heat(variant_key: str, keys: list[str], cls: np.ndarray, images_of) -> np.ndarray:
            """Heatmaps of some selected images; ``images_of()`` gives their pixels."""
            namespace = f"{prefix}/{variant_key}"
            found = cache.get_many(namespace, keys)
            missing = [j for j, k in enumerate(keys) if k not in found]
            if missing:
                maps = cam.heatmaps(images_of()[missing], batch_size=batch,
                                    class_index=cls if np.ndim(cls) == 0 else cls[missing])
                cache.put_many(namespace, {keys[j]: maps[t] for t, j in enumerate(missing)})
                for t, j in enumerate(missing):
                    found[keys[j]] = maps[t]
            return np.stack([found[k] for k in keys]).astype(np.float32)

        top = {}  # the highest severity of each family: its maps are kept for the gallery
        for variant in variants:
            if variant.severity >= top.get(variant.family, variant).severity:
                top[variant.family] = variant
        shares: dict[str, list] = {}
        floor: dict[str, dict[str, list]] = {}
        drifts: dict[str, dict[str, list]] = {v.name: {} for v in variants}
        kept: dict[str, list] = {}
        clean_kept: list = []
        parts = [np.arange(i, min(i + step, sel.size)) for i in range(0, sel.size, step)]
        desc = "grad-cam" if explainer.name == "gradcam" else "occlusion"
        for part in progress_bar(parts, progress=progress, desc=desc, unit="part"):
            idx, keys = sel[part], [image_keys[i] for i in sel[part]]
            cls = class_index if np.ndim(class_index) == 0 else class_index[part]
            visit = _Lazy(lambda idx=idx: revisit(idx))
            h_clean = heat("clean", keys, cls, lambda: visit().images)
            if len(clean_kept) < GALLERY_OVERLAYS:
                clean_kept.extend(h_clean[:GALLERY_OVERLAYS - len(clean_kept)])
            _extend(shares, attention_shares(h_clean, skin=visit().masks.skin(),
                                             lesion=visit().masks.lesion(), size=hw,
                                             region=regions or None))
            # The noise floor (an identity re-run and a 1-pixel shift) needs the model itself:
            # its per-image drift is cached like everything else.
            flat = cached_fields(cache, f"{prefix}/noise-floor", keys, lambda: {
                f"{name}.{metric}": values
                for name, d in noise_floor(cam, visit().images, clean=h_clean, class_index=cls,
                                           batch_size=batch).items()
                for metric, values in d.items()})
            for name, values in flat.items():
                kind, metric = name.split(".", 1)
                floor.setdefault(kind, {}).setdefault(metric, []).append(values)
            for variant in variants:
                vkey = variant_key(variant, seed=cfg.seed, mask_version=_mask_version(cfg))
                h_var = heat(vkey, keys, cls, lambda v=variant: visit().perturbed(v))
                if top.get(variant.family) is variant:
                    have = kept.setdefault(variant.name, [])
                    have.extend(h_var[:GALLERY_OVERLAYS - len(have)])
                # per-image drift: a function of the two cached maps, so cached beside them
                found = cached_fields(cache, f"{prefix}/drift|{DRIFT_VERSION}/{vkey}", keys,
                                      lambda h=h_var, c=h_clean: drift(c, h, size=hw))
                _extend(drifts[variant.name], {m: found[m] for m in DRIFT_METRICS})
            if visit.made:
                visit().perturbed.release()
        shares = {k: np.concatenate(v) for k, v in shares.items()}
        no_flip = np.zeros(sel.size, dtype=bool)
        floor_section = {
            name: summarise_drift({m: np.concatenate(v) for m, v in d.items()}, flipped=no_flip,
                                  groups=groups[sel], n_boot=cfg.n_boot, seed=cfg.seed)
            for name, d in floor.items()}
        pred_clean = (probs["clean"][sel] >= threshold if class_probs is None
                      else top_class_index(class_probs["clean"][sel]))
        per_variant = {}
        for variant in variants:
            d = {m: np.concatenate(v) for m, v in drifts[variant.name].items()}
            flipped = (probs[variant.name][sel] >= threshold if class_probs is None
                       else top_class_index(class_probs[variant.name][sel])) != pred_clean
            per_variant[variant.name] = summarise_drift(d, flipped=flipped, groups=groups[sel],
                                                        n_boot=cfg.n_boot, seed=cfg.seed)
        grid = list(np.asarray(clean_kept[0]).shape) if clean_kept else []
    left_out = _fewer_than_groups(cfg.gradcam, groups)
    selection = "all" if sel.size == len(groups) else "stratified sample per group"
    note = ""
    if left_out:
        n_groups = len(set(groups.tolist()))
        selection = f"one image from each of the {sel.size} largest of {n_groups} groups"
        note = (f" (--gradcam {cfg.gradcam} is fewer than the {n_groups} skin-tone groups: one "
                f"image from each of the largest; none from {', '.join(left_out)})")
    occ = explainer.occlusion
    if occ is None:
        log(f"Grad-CAM on {sel.size} images at layer {explainer.layer_name}{note}")
    else:
        log(f"{occ.label()} on {sel.size} images, {explainer.passes_per_map} forward passes per "
            f"image and map{note}")
    group_values = groups[sel]
    section = {
        "available": True,
        "explainer": explainer.name,
        "layer": explainer.layer_name,
        "method": explainer.key,
        "class_explained": (model.spec.positive_class if class_probs is None
                            else "the top class of each clean image"),
        "n_images": int(sel.size),
        "selection": selection,
        "regions": {k: list(v) for k, v in regions.items()},
        "attention": {k: value_summary(v) for k, v in shares.items()},
        "attention_by_group": {
            str(g): {k: value_summary(v[group_values == g]) for k, v in shares.items()}
            for g in sorted(set(group_values.tolist()))
        },
        "noise_floor": floor_section,
        "drift": per_variant,
    }
    if occ is not None:
        section["occlusion"] = {"label": occ.label(), "grid": grid,
                                "baseline": occ.baseline,
                                "forward_passes_per_image": explainer.passes_per_map}
    return GradCamResult(section=section,
                         clean=np.asarray(clean_kept, dtype=np.float32) if clean_kept else None,
                         selected=sel,
                         kept={k: np.asarray(v, dtype=np.float32) for k, v in kept.items()})


def _mask_version(cfg: AuditConfig) -> str:
    return subgroups.mask_version(cfg.skin_tone.mask)


def _extend(lists: dict[str, list], values: dict[str, np.ndarray]) -> None:
    for k, v in values.items():
        lists.setdefault(k, []).append(np.asarray(v))


class _Lazy:
    """A value made on first call (the selected images of a part are read back only when a
    heatmap or a drift is missing from the cache)."""

    def __init__(self, make: Callable[[], Any]):
        self._make = make
        self.made = False
        self._value = None

    def __call__(self):
        if not self.made:
            self._value = self._make()
            self.made = True
        return self._value


class _FixedBatchCam:
    """Grad-CAM asked for every heatmap at one batch size, however few images a part has: an
    image's heatmap is then the same in whichever part (and run) it is computed."""

    def __init__(self, cam, batch: int):
        self._cam = cam
        self._batch = batch

    def heatmaps(self, images, *, class_index=None, batch_size: int = 32):
        return self._cam.heatmaps(images, class_index=class_index, batch_size=self._batch,
                                  shrink=False)


def _fixed_batch(explainer: "_Explainer", *, n: int, batch: int):
    """The explainer's heatmap maker and the images explained per part. Grad-CAM at the batch
    it would use for all ``n`` selected images at once (``batch``, or the next power of two at or
    above ``n`` when fewer), fixed, with parts a whole number of such batches (every image keeps
    its place in its batch); occlusion as it is (each map is its own batches of forward
    passes)."""
    if explainer.name != "gradcam":
        return _CamProxy(explainer.get), PART
    size = batch if n >= batch else 1 << max(0, (n - 1).bit_length())
    return _CamProxy(lambda: _FixedBatchCam(explainer.get(), size)), size * -(-PART // size)


class _CamProxy:
    """Build the explainer at its first heatmap (a run whose heatmaps are all cached never
    loads the model)."""

    def __init__(self, make: Callable[[], Any]):
        self._get = _Lazy(make)

    def heatmaps(self, images, **kw):
        return self._get().heatmaps(images, **kw)
