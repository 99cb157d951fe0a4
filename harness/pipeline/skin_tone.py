"""The skin-tone stage: each clean image's ITA and group (once, never on a perturbed image), the
label groupings a manifest carries, and the ``groups`` section of results.json."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.errors import UserError
from harness.pipeline.timer import Timer
from harness.results.io import group_label, value_summary
from subgroups import UNKNOWN, get_scheme, group_order, label_agreement

# Manifest columns that hold human skin-type labels and become groupings of their own.
LABEL_GROUPING_COLUMNS = ("fitzpatrick", "fitzpatrick_centaur", "monk", "mst", "skin_type")
# Columns whose values are Fitzpatrick types (1-6), compared with the ITA-based estimate.
FITZPATRICK_COLUMNS = ("fitzpatrick", "fitzpatrick_centaur")


@dataclass(frozen=True)
class SkinTone:
    """What the skin-tone stage found.

    Attributes
    ----------
    table : DataFrame
        One row per image (``ita``, ``ita_iqr``, ``skin_fraction``, ``L``, ``b``, ``group``,
        ``fitzpatrick_est``), from ``subgroups.estimate_skin_tone``.
    groupings : dict
        Grouping name -> (N,) group label per image: ``"group"`` (the estimate) first, then the
        label columns.
    section : dict
        The ``groups`` section of results.json.
    """

    table: pd.DataFrame
    groupings: dict[str, np.ndarray]
    section: dict[str, Any]


def skin_tone_stage(*, tone: pd.DataFrame, extra: pd.DataFrame, settings, scheme: str,
                    label_groupings: tuple[str, ...] | None, timer: Timer) -> SkinTone:
    """Gather the groupings from every clean image's skin tone (``tone``, one row per image from
    ``subgroups.estimate_skin_tone``, measured during the streamed pass) and the manifest.

    ``settings`` are the audit config's skin-tone settings (``subgroups.SkinToneConfig``);
    ``label_groupings`` names the manifest columns that become groupings; None takes every column
    of :data:`LABEL_GROUPING_COLUMNS` that ``extra`` has.
    """
    with timer.stage("skin_tone"):
        groupings: dict[str, np.ndarray] = {"group": tone["group"].astype(str).to_numpy(dtype=object)}
        groupings.update(_label_groupings(extra, label_groupings))
        agreement = {}
        est = tone["fitzpatrick_est"]
        for col in FITZPATRICK_COLUMNS:
            if col in groupings:
                agreement[col] = label_agreement(est.tolist(), extra[col].tolist())
    section = {
        "column": "group",
        "scheme": scheme,
        "scheme_info": get_scheme(scheme, settings=settings).to_dict(),
        "order": group_order(scheme),
        "counts": {g: int((groupings["group"] == g).sum()) for g in group_order(scheme)},
        "ita": ita_summary(tone),
        "label_groupings": {c: _counts(v) for c, v in groupings.items() if c != "group"},
        "label_agreement": agreement,
    }
    return SkinTone(table=tone, groupings=groupings, section=section)


def grouping_names(columns, requested: tuple[str, ...] | None) -> list[str]:
    """The groupings an audit will have, from the manifest's extra ``columns`` alone (known
    before any image is read): ``"group"``, then the label columns. A requested column the
    manifest lacks raises ``UserError``."""
    return ["group", *_label_columns(list(columns), requested)]


def _label_columns(columns: list[str], requested: tuple[str, ...] | None) -> list[str]:
    if requested is None:
        return [c for c in columns if str(c).lower() in LABEL_GROUPING_COLUMNS]
    missing = [c for c in requested if c not in columns]
    if missing:
        have = ", ".join(map(str, columns)) or "none"
        raise UserError(f"label_groupings: column(s) {', '.join(missing)} not in the manifest "
                        f"(its extra columns: {have})")
    return list(requested)


def _label_groupings(extra: pd.DataFrame, requested: tuple[str, ...] | None) -> dict[str, np.ndarray]:
    """Manifest label columns used as groupings: values as strings, missing -> "unknown"."""
    cols = _label_columns(list(extra.columns), requested)
    out: dict[str, np.ndarray] = {}
    for col in cols:
        out[col] = np.asarray([group_label(v) for v in extra[col].tolist()], dtype=object)
    return out


def _counts(values: np.ndarray) -> dict[str, int]:
    keys, counts = np.unique(values.astype(str), return_counts=True)
    return {str(k): int(c) for k, c in zip(keys, counts)}


def ita_summary(tone: pd.DataFrame) -> dict[str, Any]:
    """The ITA distribution, its histogram, and median ITA, L* and b* per group (for colour
    swatches), over the images whose skin tone is known.

    An image is known when its group is not ``unknown``, whatever its raw ITA: the ITA of an
    image with too little skin, or skin too uneven to read, is measured but is no evidence, so it
    is left out of ``n_known``, the summary and the histogram, and the ``unknown`` group gets no
    median (``None``); it keeps its ``n``.
    """
    ita = tone["ita"].to_numpy(dtype=float)
    known = (tone["group"].astype(str) != UNKNOWN).to_numpy() & np.isfinite(ita)
    edges = np.arange(-90, 91, 10)
    hist, _ = np.histogram(ita[known], bins=edges)
    per_group = {}
    for g, frame in tone.groupby("group", sort=False):
        measured = np.isfinite(frame["ita"].to_numpy(dtype=float)) & (str(g) != UNKNOWN)
        fin = frame[measured]
        per_group[str(g)] = {
            "n": int(len(frame)),
            "ita_median": float(fin["ita"].median()) if len(fin) else None,
            "L_median": float(fin["L"].median()) if len(fin) and "L" in fin else None,
            "b_median": float(fin["b"].median()) if len(fin) and "b" in fin else None,
        }
    return {
        "n": int(len(ita)), "n_known": int(known.sum()), "summary": value_summary(ita[known]),
        "histogram": {"edges": edges.tolist(), "counts": hist.tolist()},
        "per_group": dict(sorted(per_group.items())),
    }
