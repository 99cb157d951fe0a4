"""One audit, as a straight line of stages.

load & validate -> skin-tone groups -> perturbation ladder -> predictions (cached) -> metrics,
thresholds, Grad-CAM drift -> results.json + samples.csv -> report.html (+ gates, junit.xml).

Each stage reads what the stage before produced and adds its own section to the results; nothing
reaches back. The stages' kernels live in their own packages (``subgroups``, ``perturbations``,
``harness.metrics``, ``harness.explain.gradcam``); this module only orders them, keeps the timings and hands
plain arrays between them.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.results import io as results_io
from harness.config import AuditConfig
from harness.errors import NotAvailable, UserError
from harness.results.io import group_label, value_summary

# Manifest columns that hold human skin-type labels and become groupings of their own.
LABEL_GROUPING_COLUMNS = ("fitzpatrick", "fitzpatrick_centaur", "monk", "mst", "skin_type")
# Columns whose values are Fitzpatrick types (1-6), compared with the ITA-based estimate.
FITZPATRICK_COLUMNS = ("fitzpatrick", "fitzpatrick_centaur")
# Grad-CAM "auto": every image when the heatmaps of all variants stay within this many images.
GRADCAM_AUTO_BUDGET = 4000
# Grad-CAM overlays saved per variant for the report's gallery.
GALLERY_OVERLAYS = 24


class RegionMasks:
    """Healthy-skin and lesion masks of the clean images, computed once and only when needed."""

    def __init__(self, images: np.ndarray, timer: "Timer"):
        self._images = images
        self._timer = timer
        self._skin: np.ndarray | None = None
        self._lesion: np.ndarray | None = None
        self._region: np.ndarray | None = None

    @property
    def version(self) -> str:
        from subgroups import MASK_VERSION

        return MASK_VERSION

    def _compute(self) -> None:
        if self._skin is None:
            from subgroups.config import load_config
            from subgroups.mask import analyse_image

            params = load_config().mask
            with self._timer.stage("masks"):
                found = [analyse_image(im, params) for im in self._images]  # one pass per image
                self._skin = np.stack([r.skin for r in found])
                self._lesion = np.stack([r.lesion for r in found])
                self._region = self._skin | self._lesion

    def skin(self) -> np.ndarray:
        self._compute()
        return self._skin

    def lesion(self) -> np.ndarray:
        self._compute()
        return self._lesion

    def region(self) -> np.ndarray:
        """Skin and lesion together: where regional perturbations (redness) act."""
        self._compute()
        return self._region


class PerturbedImages:
    """The ladder applied to the clean images on demand, one variant in memory at a time.

    The clean images' CIELAB is prepared once for the whole ladder; stochastic families are seeded
    per image by content hash, so a cached prediction always belongs to the same draw.
    """

    def __init__(self, images: np.ndarray, image_ids: list[str], masks: RegionMasks, *, seed: int,
                 timer: "Timer"):
        self._images = images
        self._ids = image_ids
        self._masks = masks
        self._seed = seed
        self._timer = timer
        self._prepared = None
        self._memo: dict[str, np.ndarray] = {}

    def key(self, variant) -> str:
        """Cache key of a variant: its spec, the seed when it draws at random, and the mask
        algorithm when it acts inside the skin region."""
        parts = [variant.key()]
        if getattr(variant, "stochastic", True):
            parts.append(f"seed={self._seed}")
        if getattr(variant, "uses_mask", True):
            parts.append(f"mask={self._masks.version}")
        return "|".join(parts)

    def _prep(self):
        if self._prepared is None:
            from perturbations import prepare

            with self._timer.stage("perturb"):
                self._prepared = prepare(self._images)
        return self._prepared

    def __call__(self, variant) -> np.ndarray:
        if variant.name not in self._memo:
            from perturbations import apply

            region = self._masks.region() if getattr(variant, "uses_mask", True) else None
            prep = self._prep()
            with self._timer.stage("perturb"):
                self._memo.clear()
                self._memo[variant.name] = apply(variant, prep, masks=region, seed=self._seed,
                                                 image_ids=self._ids)
        return self._memo[variant.name]

    def subset(self, variant, idx) -> np.ndarray:
        """``self(variant)[idx]`` without perturbing the other images (every family acts on
        each image alone: its own mean, mask and seed)."""
        idx = np.asarray(idx, dtype=np.int64)
        if variant.name in self._memo:
            return self._memo[variant.name][idx]
        from perturbations import apply

        uses_mask = getattr(variant, "uses_mask", True)
        region = self._masks.region()[idx] if uses_mask else None
        with self._timer.stage("perturb"):
            return apply(variant, self._images[idx], masks=region, seed=self._seed,
                         image_ids=[self._ids[i] for i in idx])

    def achieved(self, variant) -> dict[str, np.ndarray]:
        from perturbations import achieved

        out = self(variant)
        with self._timer.stage("achieved"):
            return achieved(self._prep(), out, masks=self._masks.region())

    def release(self) -> None:
        self._memo.clear()


class LazyGradCam:
    """A Grad-CAM explainer built only when a heatmap is missing from the cache.

    The layer it finds and its cache key are remembered by model hash, so that a run whose
    heatmaps are all cached never loads the model (nor imports TensorFlow).
    """

    def __init__(self, model, *, layer: str | None, cache):
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

    def get(self):
        if self._cam is None:
            from harness.explain.gradcam import GradCam

            self._cam = GradCam(self._model.keras_model(), layer=self._layer,
                                preprocess=self._model.preprocess)
        return self._cam


@dataclass
class Timer:
    """Wall-clock seconds per stage (the only part of results.json allowed to vary)."""

    seconds: dict[str, float] = field(default_factory=dict)

    def stage(self, name: str):
        timer = self

        class _Ctx:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                timer.seconds[name] = round(timer.seconds.get(name, 0.0) + time.perf_counter() - self.t0, 4)

        return _Ctx()


def _label_groupings(extra: pd.DataFrame, requested: tuple[str, ...] | None) -> dict[str, np.ndarray]:
    """Manifest label columns used as groupings: values as strings, missing -> "unknown"."""
    if requested is None:
        cols = [c for c in extra.columns if c.lower() in LABEL_GROUPING_COLUMNS]
    else:
        missing = [c for c in requested if c not in extra.columns]
        if missing:
            have = ", ".join(extra.columns) or "none"
            raise UserError(f"label_groupings: column(s) {', '.join(missing)} not in the manifest "
                            f"(its extra columns: {have})")
        cols = list(requested)
    out: dict[str, np.ndarray] = {}
    for col in cols:
        out[col] = np.asarray([group_label(v) for v in extra[col].tolist()], dtype=object)
    return out


def _gradcam_selection(mode: str, groups: np.ndarray, n_variants: int, seed: int) -> np.ndarray:
    """Indices of the images that get heatmaps: all, none, N, or auto (a stratified sample)."""
    n = len(groups)
    if mode == "none":
        return np.zeros(0, dtype=int)
    if mode == "all":
        return np.arange(n)
    if mode == "auto":
        limit = max(1, GRADCAM_AUTO_BUDGET // max(1, n_variants + 1))
    else:
        limit = int(mode)
    if limit >= n:
        return np.arange(n)
    # Stratified: the same share of every group, at least one image of each group.
    rng = np.random.default_rng(seed)
    chosen = []
    for g in sorted(set(groups.tolist())):
        idx = np.flatnonzero(groups == g)
        k = max(1, round(limit * len(idx) / n))
        chosen.extend(rng.choice(idx, size=min(k, len(idx)), replace=False).tolist())
    return np.asarray(sorted(chosen), dtype=int)


def _check_output_folder(out: Path) -> None:
    """Create ``out`` (the run directory) and make sure files can be written into it."""
    import tempfile

    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        what = "is a file" if out.is_file() else (exc.strerror or type(exc).__name__).lower()
        raise UserError(f"--out {out}: {what}; give a folder DermaTrace can create and write "
                        "into") from None


def run_audit(cfg: AuditConfig, *, cache_dir: Path | None, progress: bool = False,
              log: Callable[[str], None] = lambda msg: None) -> dict[str, Any]:
    """Audit ``cfg.model`` on ``cfg.data`` and write the run directory ``cfg.out``.

    Returns the results (as written to ``results.json``). Raises ``UserError`` for bad input
    before any expensive work where it can.
    """
    from harness.cache import ArrayCache
    from harness.data.load import load_dataset
    from harness.models.open import open_model

    timer = Timer()
    t_start = time.perf_counter()
    out = Path(cfg.out)
    _check_output_folder(out)  # before the work, not after it

    gates = None
    if cfg.gates:
        from harness.gates.evaluate import load_gates

        gates = load_gates(cfg.gates)  # a malformed gate file stops here, before any work

    cache = ArrayCache(cache_dir)

    # -- model (no TensorFlow unless something must be inferred from the graph) -----------------
    with timer.stage("open_model"):
        model = open_model(cfg.model, spec_path=cfg.model_spec, positive_class=cfg.positive_class,
                           trust=cfg.trust_model, cache=cache)
    spec = model.spec
    size = tuple(spec.input_size)

    # -- load & validate ----------------------------------------------------------------------
    with timer.stage("load_data"):
        allowed = None if (model.binary_view or not spec.class_names) else spec.class_names
        ds = load_dataset(cfg.data, size=size, allowed_labels=allowed,
                          data_root=Path(cfg.data_root) if cfg.data_root else None, progress=progress)
    for s in ds.skipped:
        log(f"skipped {s.file}: {s.reason}")
    n = len(ds.files)
    log(f"{n} images from {ds.root} ({len(ds.skipped)} skipped); model {model.path} "
        f"({model.format}, input {size[0]}x{size[1]})")
    # Rebuild the model's view now that the dataset's labels are known (class names inferred).
    if spec.extra.get("needs_dataset_labels"):
        model = open_model(cfg.model, spec_path=cfg.model_spec, positive_class=cfg.positive_class,
                           trust=cfg.trust_model, dataset_labels=ds.class_names, cache=cache)
        spec = model.spec
    y_true = (ds.labels == spec.positive_class).astype(np.int8)
    from harness.data.decode import DECODER_VERSION

    # An image's cache key: its content hash and the decode/resize recipe that made the array.
    image_keys = [f"{h}:{size[0]}x{size[1]}:{DECODER_VERSION}" for h in ds.image_hashes]

    # -- skin-tone groups (from the clean image, once) ----------------------------------------
    with timer.stage("skin_tone"):
        from subgroups import estimate_skin_tone, get_scheme, group_order, label_agreement

        tone = estimate_skin_tone(ds.images, scheme=cfg.skin_tone_scheme, progress=progress)
        groupings: dict[str, np.ndarray] = {"group": tone["group"].astype(str).to_numpy(dtype=object)}
        groupings.update(_label_groupings(ds.extra, cfg.label_groupings))
        agreement = {}
        est = tone["fitzpatrick_est"]
        for col in FITZPATRICK_COLUMNS:
            if col in groupings:
                agreement[col] = label_agreement(est.tolist(), ds.extra[col].tolist())
    groups_section = {
        "column": "group",
        "scheme": cfg.skin_tone_scheme,
        "scheme_info": get_scheme(cfg.skin_tone_scheme).to_dict(),
        "order": group_order(cfg.skin_tone_scheme),
        "counts": {g: int((groupings["group"] == g).sum()) for g in group_order(cfg.skin_tone_scheme)},
        "ita": _ita_summary(tone),
        "label_groupings": {c: _counts(v) for c, v in groupings.items() if c != "group"},
        "label_agreement": agreement,
    }

    # -- predictions on the clean images ---------------------------------------------------------
    from harness.models.predict import predict_cached

    probs: dict[str, np.ndarray] = {}
    with timer.stage("predict"):
        probs["clean"] = predict_cached(model, ds.images, image_keys=image_keys, variant="clean",
                                        cache=cache, batch_size=cfg.batch_size, progress=progress)

    # -- perturbation ladder -------------------------------------------------------------------
    from perturbations import ladder
    from perturbations.measure import MEASURE_VERSION

    variants = ladder(cfg.perturbations, cfg.severities) if cfg.perturbations else []
    if gates is not None:
        from harness.gates.evaluate import check_gates

        # A gate file this run cannot answer fails now, not after the audit.
        check_gates(gates, variants=[v.name for v in variants], groupings=list(groupings))
    masks = RegionMasks(ds.images, timer)
    perturbed = PerturbedImages(ds.images, ds.image_hashes, masks, seed=cfg.seed, timer=timer)
    variant_records = []
    for variant in _progress_bar(variants, progress, "variants"):
        vkey = perturbed.key(variant)
        with timer.stage("predict"):
            probs[variant.name] = predict_cached(
                model, lambda v=variant: perturbed(v), image_keys=image_keys, variant=vkey,
                cache=cache, batch_size=cfg.batch_size, progress=False)
        # Achieved deltas do not depend on the model: cached by variant and image, the region
        # they are measured over (always the skin mask) and the measures' formulas.
        akey = f"achieved/{vkey}|region={masks.version}|{MEASURE_VERSION}"
        ach = _cached_fields(cache, akey, image_keys, lambda v=variant: perturbed.achieved(v))
        shown = [m for m in getattr(variant, "measures", ()) if m in ach] or sorted(ach)
        variant_records.append({
            "name": variant.name, "family": variant.family, "severity": variant.severity,
            "key": variant.key(), "requested": variant.requested,
            "achieved": {k: value_summary(ach[k]) for k in shown},
        })
    perturbed.release()

    # -- metrics --------------------------------------------------------------------------------
    with timer.stage("metrics"):
        from harness.metrics import audit_metrics

        metrics = audit_metrics(y_true=y_true, p=probs, groups=groupings, threshold=spec.threshold,
                                n_boot=cfg.n_boot, seed=cfg.seed, min_n=cfg.min_group_n,
                                min_per_class=cfg.min_group_per_class,
                                target_sensitivity=cfg.target_sensitivity,
                                group_order={"group": group_order(cfg.skin_tone_scheme)})

    # -- Grad-CAM and its drift ----------------------------------------------------------------
    gradcam_section, heat_clean, heat_sel, heat_kept = _gradcam_stage(cfg, model, ds, image_keys, variants,
                                                          probs, groupings["group"], spec.threshold,
                                                          cache, perturbed, masks, timer,
                                                          progress, log)

    # -- results ------------------------------------------------------------------------------
    negatives = [c for c in spec.class_names if c != spec.positive_class]
    negative = negatives[0] if len(negatives) == 1 else f"not {spec.positive_class}"
    pred = np.where(probs["clean"] >= spec.threshold, spec.positive_class, negative)

    samples = results_io.samples_frame(
        files=ds.files, labels=ds.labels, p=probs, pred=pred, tone=tone, extra=ds.extra,
        variant_order=[v.name for v in variants])
    results = results_io.assemble(
        cfg=cfg, model=model, ds=ds, groups=groups_section, variants=variant_records,
        metrics=metrics, gradcam=gradcam_section, y_true=y_true)
    from harness.pipeline.findings import add_findings

    results, samples = add_findings(results, samples)   # the report reads these, computes none

    out.mkdir(parents=True, exist_ok=True)
    with timer.stage("write"):
        results_io.write_samples(out / "samples.csv", samples)
        if cfg.thumbnails:
            _write_thumbnails(out, ds.images, variants, groupings["group"], perturbed, heat_clean,
                              heat_sel, heat_kept)
    results["timings"] = dict(timer.seconds)
    # Written before the gates are judged: a gate that cannot be judged loses nothing computed.
    results_io.write_results(out / "results.json", results)
    if gates is not None:
        from harness.gates.evaluate import evaluate_gates, write_junit

        with timer.stage("gates"):
            results["gates"] = evaluate_gates(results, gates, strict=cfg.strict)
            write_junit(results["gates"], out / "junit.xml")
        results["timings"] = dict(timer.seconds)
    results["timings"]["total_before_report"] = round(time.perf_counter() - t_start, 4)
    results_io.write_results(out / "results.json", results)
    return results


def _progress_bar(items, progress: bool, desc: str):
    if not progress or not items:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="variant", leave=False)


def _cached_fields(cache, namespace: str, image_keys: list[str], compute) -> dict[str, np.ndarray]:
    """Named per-image measures (e.g. a variant's achieved deltas), cached by image: one float
    vector per image, the measure names under ``#fields``. ``compute()`` runs only on a miss."""
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


def _counts(values: np.ndarray) -> dict[str, int]:
    keys, counts = np.unique(values.astype(str), return_counts=True)
    return {str(k): int(c) for k, c in zip(keys, counts)}


def _ita_summary(tone: pd.DataFrame) -> dict[str, Any]:
    """The ITA distribution, its histogram, and mean L*/b* per group (for colour swatches)."""
    ita = tone["ita"].to_numpy(dtype=float)
    known = np.isfinite(ita)
    edges = np.arange(-90, 91, 10)
    hist, _ = np.histogram(ita[known], bins=edges)
    per_group = {}
    for g, frame in tone.groupby("group", sort=False):
        fin = frame[np.isfinite(frame["ita"].to_numpy(dtype=float))]
        per_group[str(g)] = {
            "n": int(len(frame)),
            "ita_median": float(fin["ita"].median()) if len(fin) else None,
            "L_median": float(fin["L"].median()) if len(fin) and "L" in fin else None,
            "b_median": float(fin["b"].median()) if len(fin) and "b" in fin else None,
        }
    return {
        "n": int(len(ita)), "n_known": int(known.sum()), "summary": value_summary(ita),
        "histogram": {"edges": edges.tolist(), "counts": hist.tolist()},
        "per_group": dict(sorted(per_group.items())),
    }


def _gradcam_stage(cfg, model, ds, image_keys, variants, probs, groups, threshold, cache,
                   perturbed, masks: RegionMasks, timer, progress, log):
    """Heatmaps on a selection of images, their drift per variant, and where the model looks.

    Returns the ``gradcam`` section, the clean heatmaps and the selected indices (for galleries).
    """
    if cfg.gradcam == "none":
        return {"available": False, "reason": "disabled (--gradcam none)"}, None, None, {}
    if not model.supports_gradients:
        return ({"available": False,
                 "reason": f"not available for {model.format} models (no gradients)"}, None, None, {})
    sel = _gradcam_selection(cfg.gradcam, groups, len(variants), cfg.seed)
    if sel.size == 0:
        return {"available": False, "reason": "no images selected"}, None, None, {}
    from harness.explain.attention import (DRIFT_METRICS, DRIFT_VERSION, attention_shares, drift,
                                   noise_floor, summarise_drift)

    with timer.stage("gradcam"):
        try:
            cam = LazyGradCam(model, layer=cfg.gradcam_layer, cache=cache)
        except NotAvailable as exc:
            return {"available": False, "reason": str(exc)}, None, None, {}
        # Explain the same class on clean and perturbed images: the positive class (for one
        # sigmoid unit, GradCam turns index 0 into the unit's negated score).
        class_index = list(model.spec.class_names).index(model.spec.positive_class)
        # Heatmaps depend on the model file, the sidecar settings, the layer and the class.
        prefix = f"{model.hash}/{model.cache_tag}/{cam.key}/class={class_index}"
        sel_keys = [image_keys[i] for i in sel]

        def heat(variant_key: str, images_at) -> np.ndarray:
            """Heatmaps of the selected images; ``images_at(idx)`` gives just the missing ones."""
            namespace = f"{prefix}/{variant_key}"
            found = cache.get_many(namespace, sel_keys)
            missing = [j for j, k in enumerate(sel_keys) if k not in found]
            if missing:
                imgs = images_at(sel[missing])
                maps = cam.get().heatmaps(imgs, class_index=class_index, batch_size=cfg.batch_size)
                cache.put_many(namespace, {sel_keys[j]: maps[t] for t, j in enumerate(missing)})
                for t, j in enumerate(missing):
                    found[sel_keys[j]] = maps[t]
            return np.stack([found[k] for k in sel_keys]).astype(np.float32)

        hw = (int(model.spec.input_size[1]), int(model.spec.input_size[0]))
        h_clean = heat("clean", lambda idx: ds.images[idx])
        regions = {name: tuple(box) for name, box in (cfg.attention_regions or {}).items()}
        shares = attention_shares(h_clean, skin=masks.skin()[sel], lesion=masks.lesion()[sel],
                                  size=hw, region=regions or None)
        pred_clean = probs["clean"][sel] >= threshold
        no_flip = np.zeros(sel.size, dtype=bool)
        # The noise floor (an identity re-run and a 1-pixel shift) needs the model itself: its
        # per-image drift is cached like everything else.
        flat = _cached_fields(cache, f"{prefix}/noise-floor", sel_keys, lambda: {
            f"{name}.{metric}": values
            for name, d in noise_floor(cam.get(), ds.images[sel], clean=h_clean,
                                       class_index=class_index, batch_size=cfg.batch_size).items()
            for metric, values in d.items()})
        floor: dict[str, dict[str, np.ndarray]] = {}
        for name, values in flat.items():
            kind, metric = name.split(".", 1)
            floor.setdefault(kind, {})[metric] = values
        floor_section = {name: summarise_drift(d, flipped=no_flip, groups=groups[sel],
                                               n_boot=cfg.n_boot, seed=cfg.seed)
                         for name, d in floor.items()}
        per_variant = {}
        top = {}  # the highest severity of each family: its maps are kept for the gallery
        for variant in variants:
            if variant.severity >= top.get(variant.family, variant).severity:
                top[variant.family] = variant
        kept = {}
        for variant in _progress_bar(variants, progress, "grad-cam"):
            vkey = perturbed.key(variant)
            h_var = heat(vkey, lambda idx, v=variant: perturbed.subset(v, idx))
            if top.get(variant.family) is variant:
                kept[variant.name] = h_var[:GALLERY_OVERLAYS]
            # per-image drift: a function of the two cached maps, so cached beside them
            found = _cached_fields(cache, f"{prefix}/drift|{DRIFT_VERSION}/{vkey}", sel_keys,
                                   lambda h=h_var: drift(h_clean, h, size=hw))
            d = {metric: found[metric] for metric in DRIFT_METRICS}
            flipped = (probs[variant.name][sel] >= threshold) != pred_clean
            per_variant[variant.name] = summarise_drift(d, flipped=flipped, groups=groups[sel],
                                                        n_boot=cfg.n_boot, seed=cfg.seed)
    log(f"Grad-CAM on {sel.size} images at layer {cam.layer_name}")
    group_values = groups[sel]
    section = {
        "available": True,
        "layer": cam.layer_name,
        "method": cam.key,
        "class_explained": model.spec.positive_class,
        "n_images": int(sel.size),
        "selection": "all" if sel.size == len(groups) else "stratified sample per group",
        "regions": {k: list(v) for k, v in regions.items()},
        "attention": {k: value_summary(v) for k, v in shares.items()},
        "attention_by_group": {
            str(g): {k: value_summary(v[group_values == g]) for k, v in shares.items()}
            for g in sorted(set(group_values.tolist()))
        },
        "noise_floor": floor_section,
        "drift": per_variant,
    }
    return section, h_clean, sel, kept


def _write_thumbnails(out: Path, images: np.ndarray, variants, groups: np.ndarray, perturbed,
                      heat_clean, heat_sel, heat_kept) -> None:
    """Small JPEGs for the report: every clean image, one strip image per group across the
    ladder, and Grad-CAM overlays (clean, and the highest severity of each family) for the
    gallery."""
    from reports import save_thumbnail

    for i in range(len(images)):
        save_thumbnail(out, f"clean/{i}", images[i])
    strip = sorted({int(np.flatnonzero(groups == g)[0]) for g in set(groups.tolist())})
    for variant in variants:
        for i, image in zip(strip, perturbed.subset(variant, strip)):
            save_thumbnail(out, f"{variant.name}/{i}", image)
    if heat_clean is None:
        return
    from harness.explain.overlays import overlay

    shown = heat_sel[:GALLERY_OVERLAYS]
    for t, i in enumerate(shown):
        save_thumbnail(out, f"gradcam/clean/{int(i)}", overlay(images[i], heat_clean[t]))
    by_name = {v.name: v for v in variants}
    for name, maps in (heat_kept or {}).items():
        imgs = perturbed.subset(by_name[name], shown)
        for t, i in enumerate(shown):
            save_thumbnail(out, f"gradcam/{name}/{int(i)}", overlay(imgs[t], maps[t]))
