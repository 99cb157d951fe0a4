"""The method notes: skin-tone scheme and its bands, how intervals were made, the small-group
rule, the decision rule, ECE binning, software versions."""
from __future__ import annotations

from typing import Any

from reports import fmt
from reports.views.common import as_dict, as_list, ci_level, dig, scheme_view, small_group_rule, text
from reports.views.skin_tone import band_ranges


def _sentence(x: Any) -> str:
    """``"percentile bootstrap; ..."`` -> ``"Percentile bootstrap; ...."``."""
    t = str(x or "").strip()
    if not t:
        return ""
    t = t[0].upper() + t[1:]
    return t if t.endswith(".") else t + "."


def methods(results: dict) -> dict:
    """The method notes, from ``groups.scheme_info`` and ``metrics.settings``."""
    settings = as_dict(dig(results, "metrics", "settings"))
    sch = scheme_view(results)
    named = [g for g in (str(x) for x in as_list(dig(results, "groups", "order"))) if g != "unknown"]
    ranges = band_ranges(named, sch["cuts"])
    return {
        "scheme": sch["name"],
        "scheme_source": sch["source"],
        "scheme_bands": "; ".join(f"{g} {ranges[g]}" for g in named) if ranges else "",
        "ci_level": ci_level(results),
        "n_boot": fmt.integer(settings.get("n_boot")) if fmt.is_number(settings.get("n_boot")) else "",
        "seed": text(settings.get("seed")) if "seed" in settings else "",
        "ci_method": _sentence(settings.get("ci_method")),
        "wilson_rule": _sentence(settings.get("wilson_rule")),
        "min_n": fmt.integer(settings.get("min_n")) if fmt.is_number(settings.get("min_n")) else "",
        "min_per_class": (fmt.integer(settings.get("min_per_class"))
                          if fmt.is_number(settings.get("min_per_class")) else ""),
        "rule": small_group_rule(results),
        "decision_rule": str(settings.get("decision_rule") or ""),
        "ece": fmt.params(settings.get("ece")) if isinstance(settings.get("ece"), dict) else "",
        "gap_exclude": ", ".join(str(x) for x in as_list(settings.get("gap_exclude"))),
        "versions": [{"name": str(k), "version": str(v)} for k, v in as_dict(results.get("versions")).items()
                     if isinstance(v, (str, int, float))],
    }
