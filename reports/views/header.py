"""The report's header: title, model name, data root, tool and schema, the interval level."""
from __future__ import annotations

from reports.views.common import as_dict, ci_level, dig, text


def header(results: dict) -> dict:
    """Title and the facts every section may name (``ci_level``: ``"95%"``, or ``""`` when unknown)."""
    model = as_dict(results.get("model"))
    data = as_dict(results.get("dataset"))
    name = model.get("name") or (str(model.get("path", "")).rsplit("/", 1)[-1] or "model")
    return {
        "title": f"DermaTrace audit: {name}",
        "model_name": str(name),
        "data_root": text(data.get("root")) if data.get("root") else "",
        "tool": f"{dig(results, 'tool', 'name', default='dermatrace')} "
                f"{dig(results, 'tool', 'version', default='')}".strip(),
        "schema": text(results.get("schema_version")),
        "ci_level": ci_level(results),
    }
