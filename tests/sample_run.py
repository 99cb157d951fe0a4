"""A realistic run directory without a model: for the report's tests, its benchmark and template work.

Images are synthetic skin photographs of known ITA (``harness.demo.synthetic``); predictions are
simulated with a planted bias (positives on dark skin are harder to detect) and perturbations that
add noise growing with severity; the ``metrics`` section comes from the real
``harness.metrics.audit_metrics`` and the Grad-CAM drift from the real ``harness.explain.attention``
functions, and the ``findings`` section and the ``flip[...]`` columns from the pipeline's own
``harness.pipeline.findings``, so the report is developed against the schema the pipeline writes.
The ``gates`` section is assembled here in the documented shape (name, metric, scope, group,
value, ci, bound, verdict).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from harness.results.io import value_summary

#: A name that must always be shown as text, never run.
HOSTILE = "<img src=x onerror=alert(1)> \"q'"

CHARDON6 = (("very_light", 55.0), ("light", 41.0), ("intermediate", 28.0), ("tan", 10.0),
            ("brown", -30.0), ("dark", -90.0))
# Share of images per group: a small "dark" group that is too small to judge.
GROUP_SHARES = (0.30, 0.24, 0.16, 0.14, 0.11, 0.05)
GROUP_RANGES = ((55, 64), (41, 55), (28, 41), (10, 28), (-30, 10), (-55, -30))
FAMILIES = {
    # family: (requested parameter, per-severity value, how strongly predictions move)
    "brightness_down": ("L_factor", lambda s: round(1.0 - 0.08 * s, 3), 0.30),
    "blur": ("sigma_px", lambda s: round(0.8 * s, 3), 0.45),
    "redness": ("da", lambda s: round(3.0 * s, 3), 0.35),
    "brightness_up": ("L_factor", lambda s: round(1.0 + 0.06 * s, 3), 0.20),
    "contrast_down": ("L_contrast", lambda s: round(1.0 - 0.1 * s, 3), 0.25),
    "contrast_up": ("L_contrast", lambda s: round(1.0 + 0.1 * s, 3), 0.15),
}
#: The three families a small sample run uses by default.
DEFAULT_FAMILIES = ("brightness_down", "blur", "redness")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _chardon(ita: np.ndarray) -> np.ndarray:
    out = np.full(ita.shape, "unknown", dtype=object)
    for name, lower in reversed(CHARDON6):
        out[np.isfinite(ita) & (ita > lower)] = name
    return out


def _fitzpatrick_of(ita: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    edges = [55, 41, 28, 10, -30]
    t = 1 + sum((ita <= e).astype(int) for e in edges)
    noise = rng.choice([-1, 0, 0, 1], size=len(ita))
    return np.clip(t + noise, 1, 6)


def _perturb(image: np.ndarray, family: str, severity: int) -> np.ndarray:
    """Cheap stand-ins for the real perturbations, in CIELAB (pictures and achieved deltas only)."""
    if family == "blur":
        sigma = 0.8 * severity
        return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma)
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    if family == "brightness_down":
        lab[..., 0] *= 1.0 - 0.08 * severity
    elif family == "brightness_up":
        lab[..., 0] = np.minimum(100.0, lab[..., 0] * (1.0 + 0.06 * severity))
    elif family in ("contrast_down", "contrast_up"):
        k = 1.0 + (0.1 if family == "contrast_up" else -0.1) * severity
        mean = lab[..., 0].mean()
        lab[..., 0] = np.clip(mean + (lab[..., 0] - mean) * k, 0.0, 100.0)
    elif family == "redness":
        lab[..., 1] += 3.0 * severity
    rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _lab_means(images: np.ndarray) -> np.ndarray:
    small = np.ascontiguousarray(images[:, ::3, ::3])
    lab = cv2.cvtColor(small.reshape(-1, small.shape[2], 3).astype(np.float32) / 255.0,
                       cv2.COLOR_RGB2Lab).reshape(small.shape)
    return lab.reshape(len(small), -1, 3).mean(axis=1)


def _heatmaps(rng: np.random.Generator, n: int, grid: int = 7) -> np.ndarray:
    yy, xx = np.mgrid[0:grid, 0:grid].astype(float)
    cy, cx = rng.uniform(1.5, grid - 2.5, size=(2, n))
    h = np.exp(-(((yy[None] - cy[:, None, None]) ** 2 + (xx[None] - cx[:, None, None]) ** 2) / 3.0))
    return (h + 0.05 * rng.random((n, grid, grid))).astype(np.float32)


def make_sample_run(out: str | Path, *, n: int = 240, seed: int = 0, n_boot: int = 200,
                    severities: tuple[int, ...] = (1, 2, 3, 4, 5),
                    families: tuple[str, ...] = DEFAULT_FAMILIES, image_size: int = 96,
                    thumbnails: bool = True, gradcam: bool = True, gates: bool = True,
                    hostile: bool = False, comparison: bool = False, skipped: int = 3,
                    skill: float = 1.0) -> dict:
    """Write ``out/results.json``, ``out/samples.csv`` and ``out/thumbs/`` for a simulated audit.

    Parameters
    ----------
    out : path
        Run directory (created).
    n : int
        Images.
    seed : int
        Everything is drawn from ``np.random.default_rng(seed)``.
    n_boot : int
        Bootstrap resamples for ``audit_metrics``.
    severities, families : perturbation ladder (families from :data:`FAMILIES`).
    image_size : int
        Side of the synthetic images.
    thumbnails, gradcam, gates, comparison : bool
        Which optional parts to write.
    skill : float
        Scales how well the simulated model separates the classes (two runs with the same seed and
        different skill are two models audited on the same images, for ``compare``).
    hostile : bool
        Put :data:`HOSTILE` into a class name, file names, a skipped file, a label value, a gate
        name and the model name.
    skipped : int
        Skipped files to list in the dataset section.

    Returns
    -------
    dict
        The results written to ``results.json``.
    """
    from harness.explain.attention import attention_shares, drift, summarise_drift
    from harness.explain.overlays import overlay
    from harness.metrics import audit_metrics
    from harness.pipeline.findings import add_findings, strip_images
    from harness.results.io import write_results, write_samples
    from harness.demo.synthetic import render_synthetic
    from reports.assets import save_thumbnail

    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"families must be among {sorted(FAMILIES)}, got {unknown}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    # -- who is in the data ------------------------------------------------------------------
    group_idx = rng.choice(len(GROUP_SHARES), size=n, p=np.asarray(GROUP_SHARES) / sum(GROUP_SHARES))
    lo = np.array([GROUP_RANGES[g][0] for g in group_idx], dtype=float)
    hi = np.array([GROUP_RANGES[g][1] for g in group_idx], dtype=float)
    ita_true = rng.uniform(lo, hi)
    y = rng.integers(0, 2, size=n)
    ita = ita_true + rng.normal(0, 2.0, size=n)
    ita[rng.random(n) < 0.04] = np.nan                   # too little visible skin
    groups = _chardon(ita)
    fitz = _fitzpatrick_of(np.nan_to_num(ita_true), rng).astype(object)
    fitz_str = np.array([str(int(v)) for v in fitz], dtype=object)
    fitz_str[rng.random(n) < 0.05] = "unknown"
    if hostile:
        fitz_str[rng.random(n) < 0.03] = HOSTILE

    # -- pictures: a pool of synthetic photographs, each image the nearest in ITA, flipped/rotated -
    pool_n = min(n, 64)
    pool_ita = np.linspace(-55.0, 63.0, pool_n)
    pool_labels = np.arange(pool_n) % 2
    batch = render_synthetic(n=pool_n, size=image_size, seed=seed, ita=pool_ita, labels=pool_labels)
    images = np.empty((n, image_size, image_size, 3), dtype=np.uint8)
    skin = np.empty((n, image_size, image_size), dtype=bool)
    lesion = np.empty((n, image_size, image_size), dtype=bool)
    for i in range(n):
        cand = np.flatnonzero(pool_labels == y[i])
        j = cand[np.argmin(np.abs(pool_ita[cand] - ita_true[i]))]
        k = int(rng.integers(0, 4))
        images[i] = np.rot90(batch.images[j], k)
        skin[i] = np.rot90(batch.skin[j], k)
        lesion[i] = np.rot90(batch.lesion[j], k)

    # -- simulated predictions: a planted bias against positives on dark skin --------------------
    dark = np.nan_to_num(ita_true, nan=0.0) < 10.0
    signal = skill * np.where(dark & (y == 1), 0.6, 1.5)
    logit = signal * (2 * y - 1) + rng.normal(0, 1.0, size=n)
    probs = {"clean": _sigmoid(logit)}
    variants = []
    for fam in families:
        param, value, strength = FAMILIES[fam]
        for s in severities:
            name = f"{fam}@{s}"
            shift = -strength * 0.25 * s * (1.0 + dark)
            probs[name] = _sigmoid(logit + shift + rng.normal(0, strength * 0.35 * s, size=n))
            variants.append((name, fam, s, {param: value(s)}))

    class_names = ["atopic_dermatitis", "eczema"]
    if hostile:
        class_names = [HOSTILE, "eczema"]
    positive = "eczema"
    threshold = 0.5
    labels = np.where(y == 1, positive, class_names[0]).astype(object)
    pred = np.where(probs["clean"] >= threshold, positive, class_names[0]).astype(object)
    files = [f"{labels[i]}/img_{i:04d}.jpg" for i in range(n)]
    if hostile:
        files[0] = f"{labels[0]}/{HOSTILE}.jpg"
        files[1] = f"{labels[1]}/a|b*c_[x](y)#z.jpg"

    order = [name for name, _ in CHARDON6] + ["unknown"]
    metrics = audit_metrics(y_true=y, p=probs, groups={"group": groups, "fitzpatrick": fitz_str},
                            threshold=threshold, n_boot=n_boot, seed=seed,
                            group_order={"group": order,
                                         "fitzpatrick": [str(t) for t in range(1, 7)] + ["unknown"]},
                            target_sensitivity=0.9, class_labels=(class_names[0], positive))

    # -- skin-tone section (the pipeline's shape) ----------------------------------------------
    lab = _lab_means(images)
    known = np.isfinite(ita)
    edges = np.arange(-90, 91, 10)
    hist, _ = np.histogram(ita[known], bins=edges)
    per_group = {}
    for g in sorted(set(groups.tolist())):
        sel = (groups == g) & known
        per_group[g] = {"n": int((groups == g).sum()),
                        "ita_median": float(np.median(ita[sel])) if sel.any() else None,
                        "L_median": float(np.median(lab[sel, 0])) if sel.any() else None,
                        "b_median": float(np.median(lab[sel, 2])) if sel.any() else None}
    try:
        from subgroups import label_agreement
    except ImportError:  # the package's public names are still being wired up
        from subgroups.agreement import label_agreement

    est_fitz = _fitzpatrick_of(np.nan_to_num(ita), np.random.default_rng(seed + 1))
    est_or_na = [int(v) if k else None for v, k in zip(est_fitz, known)]
    agreement = label_agreement(est_or_na, [v if v.isdigit() else None for v in fitz_str])
    groups_section = {
        "column": "group", "scheme": "chardon6", "order": order,
        "scheme_info": {"name": "chardon6", "groups": order[:-1], "cuts": [55.0, 41.0, 28.0, 10.0, -30.0],
                        "source": "Chardon et al. 1991, Int J Cosmet Sci 13:191; Del Bino et al. 2006, "
                                  "Pigment Cell Res 19:606 (brown/dark split at -30)"},
        "counts": {g: int((groups == g).sum()) for g in order},
        "ita": {"n": n, "n_known": int(known.sum()), "summary": value_summary(ita),
                "histogram": {"edges": edges.tolist(), "counts": hist.tolist()},
                "per_group": per_group},
        "label_groupings": {"fitzpatrick": {k: int(v) for k, v in zip(*np.unique(fitz_str.astype(str),
                                                                                   return_counts=True))}},
        "label_agreement": {"fitzpatrick": agreement},
    }

    # -- perturbations: requested and achieved -------------------------------------------------
    # the images shown across the ladder: the pipeline's choice (the first image of each group)
    strip = sorted(strip_images({"groups": {"order": order}}, pd.DataFrame({"group": groups}))["by_group"].values())
    variant_records = []
    base = lab
    for name, fam, s, requested in variants:
        pert = np.stack([_perturb(im, fam, s) for im in images])
        d = _lab_means(pert) - base
        dita = (np.degrees(np.arctan2(base[:, 0] + d[:, 0] - 50, base[:, 2] + d[:, 2]))
                - np.degrees(np.arctan2(base[:, 0] - 50, base[:, 2])))
        variant_records.append({
            "name": name, "family": fam, "severity": s, "key": f"{fam}/v1/{json.dumps(requested, sort_keys=True)}",
            "requested": requested,
            "achieved": {"dL": value_summary(d[:, 0]), "da": value_summary(d[:, 1]), "db": value_summary(d[:, 2]),
                         "dITA": value_summary(dita)},
        })
        if thumbnails:
            for i in strip:
                save_thumbnail(out, f"{name}/{i}", pert[i])

    # -- Grad-CAM (simulated heatmaps, real drift summaries) -------------------------------------
    gradcam_section: dict[str, Any]
    if gradcam:
        sel = np.arange(0, n, max(1, n // 48))
        h_clean = _heatmaps(rng, len(sel))
        shares = attention_shares(h_clean, skin=skin[sel], lesion=lesion[sel], size=(image_size, image_size))
        per_variant = {}
        for name, fam, s, _ in variants:
            h_var = np.clip(h_clean + rng.normal(0, 0.06 * s, size=h_clean.shape), 0, None).astype(np.float32)
            dd = drift(h_clean, h_var, size=(image_size, image_size))
            flipped = (probs[name][sel] >= threshold) != (probs["clean"][sel] >= threshold)
            per_variant[name] = summarise_drift(dd, flipped=flipped, groups=groups[sel], n_boot=min(n_boot, 200),
                                                seed=seed)
            if thumbnails and s == max(severities) and fam == families[0]:
                # clean/perturbed pairs for the first gallery images
                for t, i in enumerate(sel[:8]):
                    save_thumbnail(out, f"gradcam/{name}/{int(i)}", overlay(_perturb(images[i], fam, s), h_var[t]))
        floor = {}
        for name, amount in (("identity", 0.0), ("shift_1px", 0.01)):
            h_f = np.clip(h_clean + amount * rng.standard_normal(h_clean.shape), 0, None).astype(np.float32)
            floor[name] = summarise_drift(drift(h_clean, h_f, size=(image_size, image_size)),
                                          flipped=np.zeros(len(sel), bool), groups=groups[sel],
                                          n_boot=min(n_boot, 200), seed=seed)
        gradcam_section = {
            "available": True, "layer": "block_16_project", "method": "gradcam/block_16_project",
            "class_explained": positive, "n_images": int(len(sel)), "noise_floor": floor,
            "selection": "stratified sample per group",
            "attention": {k: value_summary(v) for k, v in shares.items()},
            "attention_by_group": {str(g): {k: value_summary(v[groups[sel] == g]) for k, v in shares.items()}
                                   for g in sorted(set(groups[sel].tolist()))},
            "drift": per_variant,
        }
        if thumbnails:
            for t, i in enumerate(sel[:24]):
                save_thumbnail(out, f"gradcam/clean/{int(i)}", overlay(images[i], h_clean[t]))
    else:
        gradcam_section = {"available": False, "reason": "not available for tflite models (no gradients)"}

    if thumbnails:
        for i in range(n):
            save_thumbnail(out, f"clean/{i}", images[i])

    # -- samples.csv ------------------------------------------------------------------------------
    samples = pd.DataFrame({"file": files, "label": labels, "p": probs["clean"], "pred": pred,
                            "ita": ita, "ita_iqr": np.where(known, 4.0, np.nan),
                            "skin_fraction": skin.reshape(n, -1).mean(1), "group": groups,
                            "fitzpatrick_est": [int(v) if k else None for v, k in zip(est_fitz, known)],
                            "fitzpatrick": fitz_str})
    samples["fitzpatrick_est"] = samples["fitzpatrick_est"].astype("Int64")
    for name, *_ in variants:
        samples[f"p[{name}]"] = probs[name]

    # -- the rest of results.json ---------------------------------------------------------------
    skipped_list = [{"file": f"eczema/broken_{k}.jpg", "reason": "cannot identify image file"} for k in range(skipped)]
    if hostile:
        skipped_list.append({"file": f"{HOSTILE}.png", "reason": f"unknown label {HOSTILE}"})
    results: dict[str, Any] = {
        "schema_version": "1.0",
        "tool": {"name": "dermatrace", "version": "0.1.0"},
        "model": {"path": "models/eczemanet_tuned.keras", "name": HOSTILE if hostile else "eczemanet_tuned",
                  "hash": "sha256:" + ("ab12" * 16 if skill == 1.0 else f"{int(skill * 1000):04d}" * 16),
                  "format": "keras", "class_names": class_names,
                  "positive_class": positive, "threshold": threshold, "input_size": [224, 224],
                  "preprocessing": "none", "binary_view": False, "supports_gradients": True,
                  "sidecar": {"recipe": "class-weighted"}},
        "dataset": {"root": "/data/dermnet/test", "fingerprint": "f00d" * 16, "n_images": n,
                    "n_positive": int(y.sum()), "n_negative": int(n - y.sum()),
                    "class_counts": {c: int((labels == c).sum()) for c in sorted(set(labels.tolist()))},
                    "n_skipped": len(skipped_list), "skipped": skipped_list,
                    "image_sizes": {"width": {"min": 320, "max": 1024, "median": 640.0},
                                    "height": {"min": 240, "max": 768, "median": 480.0}, "distinct": 7},
                    "extra_columns": ["fitzpatrick"]},
        "config": {"seed": seed, "n_boot": n_boot, "severities": list(severities),
                   "perturbations": list(families), "skin_tone_scheme": "chardon6"},
        "groups": groups_section,
        "perturbations": {"variants": variant_records},
        "metrics": metrics,
        "gradcam": gradcam_section,
        "versions": {"python": "3.11", "numpy": np.__version__},
        "a_future_section": {"anything": [1, 2, {"x": None}]},
    }
    # what the pipeline adds just before writing: the findings and the per-image flip flags
    results, samples = add_findings(results, samples)
    write_samples(out / "samples.csv", samples)
    if gates:
        results["gates"] = _gates(results, out, hostile=hostile, families=families, severities=severities)
    if comparison:
        results["comparison"] = _comparison(metrics)
    results["timings"] = {"total_before_report": 1.0}
    write_results(out / "results.json", results)
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def _verdict(value, ci, *, lo=None, hi=None) -> str:
    if value is None:
        return "INSUFFICIENT"
    if lo is not None:
        if value < lo:
            return "FAIL" if ci and ci[1] < lo else "WARN"
        return "PASS"
    if value > hi:
        return "FAIL" if ci and ci[0] > hi else "WARN"
    return "PASS"


def _gates(results: dict, out: Path, *, hostile: bool, families, severities) -> dict:
    """The gates section: from ``harness.gates.evaluate`` when it is there, else assembled in its shape."""
    try:
        from harness.gates.evaluate import evaluate_gates, load_gates
    except ImportError:
        return _gates_by_hand(results["metrics"], hostile=hostile, families=families, severities=severities)
    lines = ["gates:",
             "  - name: AUC at least 0.80 overall", "    metric: roc_auc", "    scope: overall", "    min: 0.80",
             f"  - name: {json.dumps(HOSTILE if hostile else 'Sensitivity gap at most 0.10')}",
             "    metric: sensitivity", "    scope: group_gap", "    max: 0.10",
             "  - name: Balanced accuracy at least 0.75 in the worst group", "    metric: balanced_accuracy",
             "    scope: worst_group", "    min: 0.75", "    warn_min: 0.85"]
    if families:
        lines += [f"  - name: {families[0]}@{max(severities)} flips at most 15% in each group",
                  "    metric: flip_rate", "    scope: each_group", f"    perturbation: {families[0]}",
                  f"    severity: {max(severities)}", "    max: 0.15"]
    path = out / "gates.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return evaluate_gates(results, load_gates(path))


def _gates_by_hand(metrics: dict, *, hostile: bool, families, severities) -> dict:
    gr = metrics["groupings"]["group"]
    clean = gr["variants"]["clean"]
    verdicts = []
    auc = clean["overall"]["metrics"]["roc_auc"]
    verdicts.append({"name": "AUC at least 0.80 overall", "metric": "roc_auc", "scope": "overall", "group": None,
                     "value": auc["value"], "ci": auc["ci"], "n": auc["n"], "bound": {"min": 0.80},
                     "verdict": _verdict(auc["value"], auc["ci"], lo=0.80)})
    gap = clean["gaps"]["metrics"]["sensitivity"]["difference"] if clean["gaps"]["status"] == "ok" else {}
    verdicts.append({"name": HOSTILE if hostile else "Sensitivity gap at most 0.10", "metric": "sensitivity",
                     "scope": "group_gap", "group": None, "value": gap.get("value"), "ci": gap.get("ci"),
                     "bound": {"max": 0.10},
                     "verdict": _verdict(gap.get("value"), gap.get("ci"), hi=0.10)})
    if families:
        vname = f"{families[0]}@{max(severities)}"
        for g in gr["groups"]:
            cell = gr["robustness"][vname]["groups"][g]
            fr = cell.get("flip_rate") or {}
            verdicts.append({"name": f"{vname} flips at most 15% in each group", "metric": "flip_rate",
                             "scope": "each_group", "group": g, "perturbation": families[0],
                             "severity": max(severities), "value": fr.get("value"), "ci": fr.get("ci"),
                             "n": cell.get("n"), "bound": {"max": 0.15},
                             "reason": cell.get("reason"),
                             "verdict": _verdict(fr.get("value"), fr.get("ci"), hi=0.15)})
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v["verdict"]] = counts.get(v["verdict"], 0) + 1
    return {"passed": counts.get("FAIL", 0) == 0, "strict": False, "counts": counts, "verdicts": verdicts}


def _comparison(metrics: dict) -> dict:
    overall = metrics["groupings"]["group"]["variants"]["clean"]["overall"]["metrics"]
    deltas = []
    for key in ("balanced_accuracy", "roc_auc", "sensitivity"):
        m = overall[key]
        deltas.append({"metric": key, "scope": "overall", "value": 0.031, "ci": [-0.012, 0.070], "n": m["n"],
                       "verdict": "no significant change"})
    return {"baseline": "runs/eczemanet_baseline", "candidate": "runs/eczemanet_tuned", "paired": True,
            "deltas": deltas}
