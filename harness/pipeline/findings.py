"""Findings: what an audit's results say at a glance, and which images its report shows.

Pure functions of the assembled results (as they are about to be written to ``results.json``) and
the per-image table (``samples.csv``). The pipeline calls :func:`add_findings` once, just before
both files are written; the report reads what it adds and computes none of it (the schema is in
docs/results-schema.md, "findings"):

- ``results["findings"]``: the variant with the largest flip rate, the median ITA of each group of
  a label grouping (the report's colour swatches), the images shown across the perturbation
  ladder (the first image of each skin-tone group, as the pipeline's thumbnails), and what the
  report's summary leads with (``what_we_found``: :mod:`harness.pipeline.headline`);
- ``samples.csv`` columns ``flip[<variant>]``: whether that image's predicted class under the
  variant differs from its clean one (both at the model's threshold, ``p >= threshold``; in a
  K-class audit, its top class ``pred[<variant>]`` differs from ``pred``).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from harness.pipeline.headline import headline_grouping, what_we_found
from harness.results.io import group_label, pred_column, variant_column

#: The estimated skin-tone grouping (``samples.csv`` column and ``metrics.groupings`` key).
GROUP_GROUPING = "group"
UNKNOWN = "unknown"


def flip_column(variant: str) -> str:
    """``blur@3`` -> ``flip[blur@3]`` (the samples.csv column of a variant's flip flags)."""
    return f"flip[{variant}]"


def _number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(float(x))


def _mapping(x: Any) -> Mapping:
    return x if isinstance(x, Mapping) else {}


def _variants(results: Mapping) -> list[str]:
    """Perturbed variant names: the ladder's, then any other the metrics list; never ``clean``."""
    ladder = [v.get("name") for v in _mapping(results.get("perturbations")).get("variants") or []
              if isinstance(v, Mapping)]
    listed = list(_mapping(results.get("metrics")).get("variants") or [])
    return [str(v) for v in dict.fromkeys(ladder + listed) if v not in (None, "clean")]


def flip_flags(results: Mapping, samples: pd.DataFrame) -> pd.DataFrame:
    """Per-image flip flags: one boolean column ``flip[<variant>]`` per perturbed variant.

    Parameters
    ----------
    results : the assembled results (``model.threshold`` and the variant names are read).
    samples : the per-image table with ``p`` and one ``p[<variant>]`` column per variant.

    Returns
    -------
    DataFrame on ``samples.index``: True where the variant's prediction differs from the clean one
    (``p >= threshold`` on each side); False where either probability is missing. No columns when
    the threshold or ``p`` is missing.
    """
    if "pred" in samples.columns and any(pred_column(v) in samples.columns
                                         for v in _variants(results)):
        return _top_class_flips(results, samples)   # a K-class audit: the top class changed
    threshold = _mapping(results.get("model")).get("threshold")
    if not _number(threshold) or "p" not in samples.columns:
        return pd.DataFrame(index=samples.index)
    t = float(threshold)
    p_clean = pd.to_numeric(samples["p"], errors="coerce").to_numpy(dtype=float)
    columns = {}
    for variant in _variants(results):
        col = variant_column(variant)
        if col not in samples.columns:
            continue
        p_var = pd.to_numeric(samples[col], errors="coerce").to_numpy(dtype=float)
        known = np.isfinite(p_clean) & np.isfinite(p_var)
        columns[flip_column(variant)] = known & ((p_var >= t) != (p_clean >= t))
    return pd.DataFrame(columns, index=samples.index)


def _top_class_flips(results: Mapping, samples: pd.DataFrame) -> pd.DataFrame:
    """K-class flip flags: the variant's top class (``pred[<variant>]``) differs from ``pred``."""
    clean = samples["pred"].astype(str)
    columns = {flip_column(v): (samples[pred_column(v)].astype(str) != clean).to_numpy()
               for v in _variants(results) if pred_column(v) in samples.columns}
    return pd.DataFrame(columns, index=samples.index)


def largest_flip_rate(results: Mapping) -> dict | None:
    """The perturbed variant that changes the most predictions of all images.

    Read from the headline grouping's robustness (the estimated skin tone ``group``, else the
    first grouping): the overall flip rate of every variant; the first one listed wins a tie.

    Returns
    -------
    ``{"grouping", "variant", "flip_rate": M}`` (``M`` the overall flip-rate entry as written, with
    its interval and n), or None when no variant has a defined flip rate.
    """
    name, gr = headline_grouping(results)
    best: tuple[str, Mapping] | None = None
    for variant, rob in _mapping(gr.get("robustness")).items():
        fr = _mapping(_mapping(_mapping(rob).get("overall")).get("flip_rate"))
        if _number(fr.get("value")) and (best is None or fr["value"] > best[1]["value"]):
            best = (str(variant), fr)
    if best is None:
        return None
    return {"grouping": name, "variant": best[0], "flip_rate": dict(best[1])}


def label_group_ita(results: Mapping, samples: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """Median ITA (degrees) of the images of each group of every label grouping.

    A label grouping is any ``metrics.groupings`` entry other than the estimated skin tone that
    ``samples`` has as a column (e.g. ``fitzpatrick``); an image belongs to the group its label
    names (``harness.results.io.group_label``, as the metrics grouped it). Images without an ITA
    estimate are left out; a group with none gets None.
    """
    if "ita" not in samples.columns:
        return {}
    ita = pd.to_numeric(samples["ita"], errors="coerce").to_numpy(dtype=float)
    known = np.isfinite(ita)
    out: dict[str, dict[str, float | None]] = {}
    groupings = _mapping(_mapping(results.get("metrics")).get("groupings"))
    for name, gr in groupings.items():
        if name == GROUP_GROUPING or name not in samples.columns or not isinstance(gr, Mapping):
            continue
        labels = np.array([group_label(x) for x in samples[name].tolist()], dtype=object)
        groups = [str(g) for g in gr.get("groups") or []] or sorted(set(labels.tolist()))
        medians: dict[str, float | None] = {}
        for g in groups:
            values = ita[(labels == g) & known]
            medians[g] = float(np.median(values)) if values.size else None
        out[str(name)] = medians
    return out


def strip_images(results: Mapping, samples: pd.DataFrame) -> dict:
    """The images the report shows across the perturbation ladder.

    One image per estimated skin-tone group: its first row in ``samples`` (the image the pipeline
    saves perturbed thumbnails of). ``order`` is the order the report shows them in: the lightest
    and the darkest named group first, the other named groups light to dark, then the rest
    (``unknown``, groups outside the scheme's order) by row.

    Returns
    -------
    ``{"grouping": "group", "by_group": {group: row index}, "order": [row index, ...]}``.
    """
    if GROUP_GROUPING not in samples.columns:
        return {"grouping": GROUP_GROUPING, "by_group": {}, "order": []}
    first: dict[str, int] = {}
    for i, g in enumerate(samples[GROUP_GROUPING].astype(str).tolist()):
        first.setdefault(g, i)
    order = [str(g) for g in _mapping(results.get("groups")).get("order") or []]
    named = [first[g] for g in order if g in first and g != UNKNOWN]
    if len(named) > 1:
        named = [named[0], named[-1]] + named[1:-1]
    shown = named + sorted(i for i in first.values() if i not in named)
    by_group = {g: first[g] for g in order if g in first}
    by_group.update({g: i for g, i in sorted(first.items(), key=lambda gi: gi[1]) if g not in by_group})
    return {"grouping": GROUP_GROUPING, "by_group": by_group, "order": shown}


def findings(results: Mapping, samples: pd.DataFrame) -> dict:
    """The ``findings`` section of ``results.json`` (see the module docstring)."""
    return {"largest_flip_rate": largest_flip_rate(results),
            "label_group_ita": label_group_ita(results, samples),
            "strip_images": strip_images(results, samples),
            "what_we_found": what_we_found(results)}


def add_findings(results: Mapping, samples: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    """The results with their ``findings`` section and the samples with their ``flip[...]`` columns.

    Parameters
    ----------
    results : the assembled results (not modified).
    samples : the per-image table (not modified); any ``flip[...]`` columns it has are replaced.

    Returns
    -------
    (results, samples): new objects; every existing field and column is kept as it was, the
    ``flip[...]`` columns follow the existing ones.
    """
    kept = samples.drop(columns=[c for c in samples.columns
                                 if isinstance(c, str) and c.startswith("flip[")])
    out = dict(results)
    out["findings"] = findings(results, kept)
    return out, pd.concat([kept, flip_flags(results, kept)], axis=1)
