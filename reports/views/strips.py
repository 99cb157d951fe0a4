"""One image across every severity of every family: the strips of the robustness section, from
the images ``findings.strip_images`` selected and their ``<variant>/<i>`` thumbnails."""
from __future__ import annotations

from typing import Any

import pandas as pd

from harness.pipeline.findings import flip_column
from reports import fmt
from reports.assets import Thumbnails
from reports.views.common import Rows, as_list, dig, text


def strips(results: dict, samples: pd.DataFrame | None, thumbs: Thumbnails | None, *,
           limit: int) -> list[dict]:
    """The first ``limit`` images of ``findings.strip_images.order`` that have thumbnails: per
    family a row of cells (clean, then each severity) with p and whether the prediction flipped
    (``samples.csv``'s ``flip[<variant>]``)."""
    if thumbs is None:
        return []
    variants = [v for v in as_list(dig(results, "perturbations", "variants")) if isinstance(v, dict)]
    families: dict[str, list[tuple[int, str]]] = {}
    for v in variants:
        if v.get("family") is not None and fmt.is_number(v.get("severity")) and v.get("name"):
            families.setdefault(str(v["family"]), []).append((int(v["severity"]), str(v["name"])))
    if not families:
        return []
    first_variant = next(iter(families.values()))[0][1]
    selected = [int(i) for i in as_list(dig(results, "findings", "strip_images", "order")) if fmt.is_number(i)]
    shown = []
    for i in selected:
        if len(shown) >= limit:
            break
        if thumbs.uri(f"{first_variant}/{i}"):
            shown.append(i)
    rows = Rows(samples)
    sev_max = max(s for f in families.values() for s, _ in f)
    out = []
    for i in shown:
        p_clean = rows.get(i, "p")
        fam_rows = []
        for fam, items in families.items():
            cells = [_cell(thumbs.uri(f"clean/{i}"), "clean", p_clean, False)]
            by_sev = dict(items)
            for s in range(1, sev_max + 1):
                if s in by_sev:
                    vname = by_sev[s]
                    cells.append(_cell(thumbs.uri(f"{vname}/{i}"), vname, rows.get(i, f"p[{vname}]"),
                                       rows.get(i, flip_column(vname))))
                else:
                    cells.append(None)
            fam_rows.append({"family": fam, "cells": cells})
        out.append({"index": i, "file": text(rows.get(i, "file")), "group": text(rows.get(i, "group")),
                    "label": text(rows.get(i, "label")),
                    "ita": fmt.degrees(rows.get(i, "ita")),
                    "severities": list(range(1, sev_max + 1)), "rows": fam_rows})
    return out


def _cell(uri: str | None, name: str, p: Any, flipped: Any) -> dict:
    return {"uri": uri, "name": name, "p": fmt.num(p), "flipped": flipped is True}
