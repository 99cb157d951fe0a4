"""Run directories for the gate and compare tests, built from simulated predictions.

A run directory is what ``harness run`` writes: ``results.json`` (its ``metrics`` section from
``harness.metrics.audit_metrics``, its ``gradcam`` section from
``harness.explain.attention.summarise_drift``) and ``samples.csv``. The predictions are simulated with
planted properties, so tests know what the gates and the comparison must find without any model:

- two skin-tone groups, ``light`` and ``dark`` (+ a ``tiny`` group too small to judge and an
  ``unknown`` group that gaps and group gates leave out);
- a model's separation of the classes per group (``separation``): a planted skin-tone bias is a
  low separation on ``dark``;
- a perturbation family ``blur`` at severities 1-3 whose logit noise grows with severity times
  ``fragility`` (a fragile model flips predictions);
- Grad-CAM drift whose cosine falls with severity, more on ``dark`` (``drift_drop``).

Two models built from the same ``seed`` share their per-image noise: they are paired like two
models scored on the same photographs.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

GROUP_ORDER = ["light", "dark", "tiny"]
SIZES = {"light": 160, "dark": 160, "tiny": 12, "unknown": 40}
SEVERITIES = (1, 2, 3)


def population(seed: int = 0, sizes: dict[str, int] | None = None):
    """(files, labels, y, groups, fitzpatrick, noise) of a fixed simulated population."""
    sizes = sizes or SIZES
    rng = np.random.default_rng(seed)
    groups = np.concatenate([[g] * n for g, n in sizes.items()])
    n = groups.size
    y = np.zeros(n, dtype=int)
    for g in sizes:
        idx = np.flatnonzero(groups == g)
        y[idx[: len(idx) // 2]] = 1           # balanced classes in every group
    files = [f"{'eczema' if yi else 'atopic_dermatitis'}/img_{i:04d}.png" for i, yi in enumerate(y)]
    labels = np.where(y == 1, "eczema", "atopic_dermatitis")
    fitz = np.where(np.isin(groups, ["light"]), rng.choice([1, 2, 3], n),
                    rng.choice([4, 5, 6], n)).astype(float)
    fitz[groups == "unknown"] = np.nan
    noise = {"clean": rng.normal(0, 1, n)}
    for s in SEVERITIES:
        noise[f"blur@{s}"] = rng.normal(0, 1, n)
    noise["drift"] = rng.normal(0, 1, n)
    return files, labels, y, groups, fitz, noise


def predictions(y, groups, noise, *, separation: dict[str, float], fragility: float = 0.3,
                shift: float = 0.0) -> dict[str, np.ndarray]:
    """Clean and blur@1-3 probabilities of a model with the given per-group separation."""
    sep = np.array([separation.get(g, 2.0) for g in groups])
    logit = np.where(y == 1, sep / 2, -sep / 2) + noise["clean"] + shift
    p = {"clean": 1 / (1 + np.exp(-logit))}
    for s in SEVERITIES:
        p[f"blur@{s}"] = 1 / (1 + np.exp(-(logit + fragility * s * noise[f"blur@{s}"])))
    return p


def drift_section(groups, noise, p, threshold, *, drift_drop: dict[str, float], n_boot=200,
                  seed=0) -> dict:
    """A ``gradcam`` section whose median cosine at severity s is about 0.97 − drop[g] * s."""
    from harness.explain.attention import summarise_drift

    per_variant = {}
    for s in SEVERITIES:
        drop = np.array([drift_drop.get(g, 0.02) for g in groups])
        cosine = np.clip(0.97 - drop * s + 0.02 * noise["drift"], -1, 1)
        spearman = np.clip(cosine - 0.05, -1, 1)
        flipped = (p[f"blur@{s}"] >= threshold) != (p["clean"] >= threshold)
        per_variant[f"blur@{s}"] = summarise_drift(
            {"spearman": spearman, "cosine": cosine}, flipped=flipped, groups=groups,
            n_boot=n_boot, seed=seed)
    return {"available": True, "layer": "simulated", "n_images": int(len(groups)),
            "selection": "all", "drift": per_variant}


def fingerprint(files, labels) -> str:
    h = hashlib.sha256()
    for f, lab in sorted(zip(files, labels)):
        h.update(f"{f}\0{lab}\n".encode())
    return h.hexdigest()


def write_run(out: Path, *, files, labels, y, groups, p: dict[str, np.ndarray], threshold: float,
              name: str, fitzpatrick=None, gradcam: dict | None = None, n_boot: int = 200,
              seed: int = 0, fingerprint_override: str | None = None, min_n: int = 30,
              min_per_class: int = 10, group_order=None) -> Path:
    """Write ``out/results.json`` and ``out/samples.csv`` for simulated predictions."""
    from harness.metrics import audit_metrics
    from harness.results.io import SCHEMA_VERSION, write_results, write_samples

    groupings = {"group": groups}
    if fitzpatrick is not None:
        groupings["fitzpatrick"] = fitzpatrick
    metrics = audit_metrics(y_true=y, p=p, groups=groupings, threshold=threshold, n_boot=n_boot,
                            seed=seed, min_n=min_n, min_per_class=min_per_class,
                            group_order={"group": group_order or GROUP_ORDER})
    variants = [v for v in p if v != "clean"]
    results = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "dermatrace", "version": "test"},
        "model": {"path": f"tests/{name}.keras", "name": name, "hash": f"sha256:{name}",
                  "format": "keras", "class_names": ["atopic_dermatitis", "eczema"],
                  "positive_class": "eczema", "threshold": float(threshold),
                  "input_size": [224, 224], "preprocessing": "none", "binary_view": False,
                  "supports_gradients": True, "sidecar": {"recipe": name}},
        "dataset": {"root": "simulated", "fingerprint": fingerprint_override
                    or fingerprint(files, labels), "n_images": len(files),
                    "class_counts": {c: int((labels == c).sum()) for c in sorted(set(labels))},
                    "skipped": []},
        "config": {"seed": seed, "n_boot": n_boot},
        "groups": {"column": "group", "scheme": "simulated", "order": list(GROUP_ORDER)},
        "perturbations": {"variants": [{"name": v, "family": v.split("@")[0],
                                        "severity": int(v.split("@")[1])} for v in variants]},
        "metrics": metrics,
        "gradcam": gradcam if gradcam is not None else {"available": False,
                                                        "reason": "disabled (--gradcam none)"},
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    samples = pd.DataFrame({"file": files, "label": labels, "p": p["clean"],
                            "pred": np.where(p["clean"] >= threshold, "eczema",
                                             "atopic_dermatitis"),
                            "group": groups})
    if fitzpatrick is not None:
        samples["fitzpatrick"] = fitzpatrick
    for v in variants:
        samples[f"p[{v}]"] = p[v]
    write_samples(out / "samples.csv", samples)
    write_results(out / "results.json", results)
    return out


#: The two planted models of the tests: a baseline with a skin-tone bias (poor separation on dark
#: skin, fragile under blur) and a candidate that fixed dark skin and is robust, but is slightly
#: worse on light skin.
BASELINE = {"separation": {"light": 4.0, "dark": 0.6, "tiny": 2.0, "unknown": 2.0},
            "fragility": 0.9}
CANDIDATE = {"separation": {"light": 3.2, "dark": 3.0, "tiny": 2.0, "unknown": 2.0},
             "fragility": 0.1}
BASELINE_DRIFT = {"light": 0.02, "dark": 0.12}
CANDIDATE_DRIFT = {"light": 0.02, "dark": 0.03}


def make_pair(root: Path, *, n_boot: int = 200, seed: int = 0, gradcam: bool = True,
              candidate_threshold: float = 0.45) -> tuple[Path, Path]:
    """Two run directories of the same simulated images: the planted baseline and candidate."""
    files, labels, y, groups, fitz, noise = population(seed)
    pb = predictions(y, groups, noise, **BASELINE)
    pc = predictions(y, groups, noise, **CANDIDATE)
    gb = drift_section(groups, noise, pb, 0.5, drift_drop=BASELINE_DRIFT, n_boot=n_boot) \
        if gradcam else None
    gc = drift_section(groups, noise, pc, candidate_threshold, drift_drop=CANDIDATE_DRIFT,
                       n_boot=n_boot) if gradcam else None
    base = write_run(root / "baseline", files=files, labels=labels, y=y, groups=groups, p=pb,
                     threshold=0.5, name="baseline", fitzpatrick=fitz, gradcam=gb, n_boot=n_boot,
                     seed=seed)
    cand = write_run(root / "candidate", files=files, labels=labels, y=y, groups=groups, p=pc,
                     threshold=candidate_threshold, name="candidate", fitzpatrick=fitz,
                     gradcam=gc, n_boot=n_boot, seed=seed)
    return base, cand
