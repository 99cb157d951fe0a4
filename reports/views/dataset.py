"""The dataset section: classes, image sizes, skipped files, and the skin-tone part."""
from __future__ import annotations

from reports import fmt
from reports.views.common import as_dict, as_list, text
from reports.views.skin_tone import skin_tone


def dataset(results: dict, *, skipped_limit: int = 200) -> dict | None:
    """Class counts, original image sizes, the skipped files (at most ``skipped_limit``) and the
    skin-tone view (:func:`reports.views.skin_tone.skin_tone`); None without either section."""
    d = as_dict(results.get("dataset"))
    groups = as_dict(results.get("groups"))
    if not d and not groups:
        return None
    n = d.get("n_images")
    class_rows = [{"name": str(c), "n": fmt.integer(k), "share": fmt.pct(k, n)}
                  for c, k in as_dict(d.get("class_counts")).items() if fmt.is_number(k)]
    sizes = as_dict(d.get("image_sizes"))
    size_rows = []
    for axis in ("width", "height"):
        s = sizes.get(axis)
        if isinstance(s, dict):
            size_rows.append({"axis": axis, "min": fmt.integer(s.get("min")),
                              "median": fmt.num(s.get("median"), 0),
                              "max": fmt.integer(s.get("max")), "n": fmt.integer(n)})
    # {"640x480": 108, ...}: the original sizes and how many images have each
    size_counts = sorted(((str(k), int(v)) for k, v in sizes.items()
                          if fmt.is_number(v) and "x" in str(k)), key=lambda kv: (-kv[1], kv[0]))
    total_sized = sum(v for _, v in size_counts)
    size_table = [{"size": k.replace("x", "×") + " px", "n": fmt.integer(v), "share": fmt.pct(v, total_sized)}
                  for k, v in size_counts[:12]]
    sizes_more = fmt.integer(len(size_counts) - 12) if len(size_counts) > 12 else ""
    skipped_all = [s for s in as_list(d.get("skipped")) if isinstance(s, dict)]
    skipped = [{"file": text(s.get("file")), "reason": text(s.get("reason"))}
               for s in skipped_all[:skipped_limit]]
    view = {
        "n": fmt.integer(n), "classes": class_rows, "sizes": size_rows, "size_table": size_table,
        "sizes_more": sizes_more,
        "distinct_sizes": (fmt.integer(sizes.get("distinct")) if fmt.is_number(sizes.get("distinct"))
                           else fmt.integer(len(size_counts)) if size_counts else ""),
        "skipped": skipped, "n_skipped": fmt.integer(d.get("n_skipped", len(skipped_all))),
        "skipped_more": fmt.integer(len(skipped_all) - len(skipped)) if len(skipped_all) > len(skipped) else "",
        "extra_columns": ", ".join(str(c) for c in as_list(d.get("extra_columns"))),
    }
    view.update(skin_tone(results))
    return view
