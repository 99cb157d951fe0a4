"""'What we found': the lines the summary opens with, read from ``findings.what_we_found``
(:mod:`harness.pipeline.headline`) and the gates section's counts; this module only formats."""
from __future__ import annotations

from reports import fmt
from reports.views.common import (as_dict, as_list, ci_level, dig, grouping_title, metric_name,
                                  small_group_rule)

#: How the block names a verdict count.
VERDICT_WORDS = {"FAIL": "FAIL", "WARN": "WARN", "PASS": "PASS", "INSUFFICIENT": "not judged"}
_ORDER = ("FAIL", "WARN", "INSUFFICIENT", "PASS")


def _est(m: object, *, status: str | None = None, n: object = None) -> str:
    """``"0.512 [0.401, 0.622] (n=60)"``; for a group too small to judge the estimate only with
    its interval and the mark (or ``"too few to judge (n=9)"``)."""
    c = fmt.estimate(m if isinstance(m, dict) else None, status=status, status_n=n)
    parts = [c["value"]] + ([c["ci"]] if c["ci"] else [])
    extra = [x for x in (c["n"], c["mark"]) if x]
    return " ".join(parts) + (f" ({', '.join(extra)})" if extra else "")


def _counts(counts: dict) -> str:
    """``"2 FAIL, 1 WARN, 3 not judged, 9 PASS"`` (zero counts left out)."""
    return ", ".join(f"{int(counts[k])} {VERDICT_WORDS[k]}" for k in _ORDER
                     if fmt.is_number(counts.get(k)) and counts[k])


def _gates_line(results: dict) -> dict | None:
    g = results.get("gates")
    if not isinstance(g, dict):
        return None
    state = "PASSED" if g.get("passed") else "FAILED"
    counts = as_dict(g.get("counts"))
    n_cells = sum(int(c) for c in counts.values() if fmt.is_number(c))
    n_gates = len(as_list(g.get("by_gate")))
    failing = g.get("gates_failing")
    parts = []
    if fmt.is_number(failing) and n_gates:
        verb = "fails" if int(failing) == 1 else "fail"
        per_gate = _counts(as_dict(g.get("gate_counts")))
        parts.append(f"{fmt.integer(failing)} of {fmt.integer(n_gates)} gates {verb} the run"
                     + (f" ({per_gate})" if per_gate else ""))
    parts.append(f"{n_cells} verdicts" + (f": {_counts(counts)}" if n_cells else ""))
    strict = " (strict: WARN fails)" if g.get("strict") else ""
    return {"key": "gates", "label": f"Gates {state}{strict}", "css": state.lower(),
            "text": "; ".join(parts) + "."}


def _gap_line(w: dict, results: dict) -> dict | None:
    gap = as_dict(w.get("worst_gap"))
    title = grouping_title(str(w.get("grouping") or "group"), results)
    if not gap:
        reason = w.get("gap_reason")
        return {"key": "gap", "label": "Largest gap", "css": "",
                "text": f"{title}: {reason or 'no gap defined'}."}
    diff = as_dict(gap.get("difference"))
    level = ci_level(results)
    verdict = (f"the {level + ' ' if level else ''}interval excludes 0: a real gap"
               if gap.get("excludes_zero") else
               f"the {level + ' ' if level else ''}interval includes 0")
    text = (f"{metric_name(str(gap.get('metric')))} by {title[0].lower() + title[1:]}, clean images: "
            f"{gap.get('worst_group')} "
            f"{_est(gap.get('worst'))} vs {gap.get('best_group')} {_est(gap.get('best'))}: "
            f"gap {fmt.num(diff.get('value'))} {fmt.interval(diff.get('ci'))} ({verdict}).")
    return {"key": "gap", "label": "Largest gap", "css": "real" if gap.get("excludes_zero")
            else "", "text": text}


def _small_line(w: dict, results: dict) -> dict | None:
    small = [as_dict(s) for s in as_list(w.get("too_small"))]
    if not small:
        return None
    parts = [f"{s.get('group')}: balanced accuracy "
             f"{_est(s.get('balanced_accuracy'), status='insufficient', n=s.get('n'))}"
             for s in small]
    rule = small_group_rule(results)
    return {"key": "too_small", "label": "Too few to judge", "css": "insufficient",
            "text": "; ".join(parts) + (f" (the rule: {rule})" if rule else "")
            + ". Never compared, never gated."}


def _harm_line(w: dict) -> dict | None:
    h = as_dict(w.get("hurts_most"))
    if not h:
        return None
    metric = metric_name(str(h.get("metric")))
    text = (f"{h.get('variant')}: {metric} drops by {_est(h.get('drop'))} over all images "
            f"and {_est(h.get('flip_rate'))} of predictions flip")
    if h.get("group") is not None:
        text += (f"; most for {h['group']}: a drop of {_est(h.get('group_drop'))}, "
                 f"{_est(h.get('group_flip_rate'))} flip")
    return {"key": "perturbation", "label": "Hurts most", "css": "", "text": text + "."}


def _gradcam_line(w: dict, results: dict) -> dict | None:
    g = as_dict(w.get("gradcam"))
    if not g:
        return None
    section = as_dict(results.get("gradcam"))
    # "Grad-CAM", or "Occlusion" for a model explained without gradients
    label = "Grad-CAM" if section.get("explainer", "gradcam") == "gradcam" else "Occlusion"
    if not g.get("available") or g.get("variant") is None:
        return {"key": "gradcam", "label": label, "css": "",
                "text": f"not available: {g.get('reason') or 'not computed'}."}
    text = (f"attention moves most under {g['variant']}: median {g.get('metric')} similarity to "
            f"the clean heatmap {_est(g.get('drift'))}")
    floor = as_dict(g.get("noise_floor"))
    if floor:
        text += f"; a one-pixel shift gives {_est(floor)}"
    if g.get("group") is not None:
        text += f"; lowest for {g['group']}: {_est(g.get('group_drift'))}"
    return {"key": "gradcam", "label": label, "css": "", "text": text + "."}


def what_we_found(results: dict) -> list[dict] | None:
    """``[{"key", "label", "css", "text"}]``: the gate verdicts, the largest gap, the groups too
    small to judge, the perturbation that hurts most and the Grad-CAM finding; None when the
    results carry no ``findings.what_we_found`` and no gates."""
    w = as_dict(dig(results, "findings", "what_we_found"))
    lines = [_gates_line(results)]
    if w:
        lines += [_gap_line(w, results), _small_line(w, results), _harm_line(w), _gradcam_line(w, results)]
    lines = [x for x in lines if x]
    return lines or None
