"""The misclassification section: the most confident false positives and negatives per group."""
from __future__ import annotations

import pandas as pd

from reports import fmt
from reports.assets import Thumbnails
from reports.views.common import (Rows, as_dict, as_list, dig, group_order, group_swatches,
                                  grouping_title, groupings, headline_grouping, text)


def misclassified(results: dict, samples: pd.DataFrame | None, thumbs: Thumbnails | None, *,
                  gallery_limit: int = 12) -> dict | None:
    """Per group of the headline grouping, the images ``metrics.misclassified`` lists (at most
    ``gallery_limit`` per list) with their pictures; None when nothing is listed."""
    name = headline_grouping(results)
    if name is None:
        return None
    gr = groupings(results)[name]
    mis = as_dict(gr.get("misclassified"))
    if not mis:
        return None
    rows = Rows(samples)
    order = group_order(gr)
    sw = group_swatches(results, name, order)
    blocks = []
    if not as_dict(mis.get("groups")):
        blocks.append(_block("all images", as_dict(mis.get("overall")), rows, thumbs, gallery_limit, None))
    for g in order:
        mc = as_dict(dig(mis, "groups", g))
        if mc:
            blocks.append(_block(g, mc, rows, thumbs, gallery_limit, sw.get(g)))
    if not blocks:
        return None
    ov = as_dict(mis.get("overall"))
    return {"grouping": grouping_title(name, results), "blocks": blocks,
            "n": fmt.integer(ov.get("n")), "fp": fmt.integer(ov.get("false_positives")),
            "fn": fmt.integer(ov.get("false_negatives")), "limit": fmt.integer(gallery_limit),
            "positive": text(dig(results, "model", "positive_class"))}


def _block(group: str, mc: dict, rows: Rows, thumbs: Thumbnails | None, limit: int,
           swatch: str | None) -> dict:
    def items(lst):
        out = []
        for e in as_list(lst)[:limit]:
            if not isinstance(e, dict) or not fmt.is_number(e.get("index")):
                continue
            i = int(e["index"])
            out.append({"index": i, "uri": thumbs.uri(f"clean/{i}") if thumbs else None,
                        "p": fmt.num(e.get("p")), "file": text(rows.get(i, "file")),
                        "label": text(rows.get(i, "label")),
                        "ita": fmt.degrees(rows.get(i, "ita"), missing="")})
        return out

    fp, fn = items(mc.get("fp")), items(mc.get("fn"))
    return {"group": group, "swatch": swatch, "n": fmt.integer(mc.get("n")),
            "n_fp": fmt.integer(mc.get("false_positives")), "n_fn": fmt.integer(mc.get("false_negatives")),
            "fp": fp, "fn": fn, "shown_fp": fmt.integer(len(fp)), "shown_fn": fmt.integer(len(fn))}
