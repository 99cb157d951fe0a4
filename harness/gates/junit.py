"""What a gates section becomes outside results.json: a JUnit XML file for CI and terminal lines.

Both read a ``gates`` section (:func:`harness.gates.evaluate.evaluate_gates`); neither computes anything.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from harness.gates.file import DEFAULT_GROUPING, VERDICTS


def write_junit(gates_section: Mapping, path: Path) -> None:
    """Write a JUnit XML file: one testcase per verdict (gate × variant × scope element).

    FAIL (and WARN under ``strict``) -> ``<failure>`` whose message carries the value, interval,
    n and bound; INSUFFICIENT -> ``<skipped>``; WARN otherwise -> a passing case with the warning
    in ``<system-out>``.
    """
    import xml.etree.ElementTree as ET

    rows = list(gates_section.get("verdicts") or [])
    strict = bool(gates_section.get("strict"))
    failing = {"FAIL", "WARN"} if strict else {"FAIL"}
    n_fail = sum(r["verdict"] in failing for r in rows)
    n_skip = sum(r["verdict"] == "INSUFFICIENT" for r in rows)
    attrs = {"tests": str(len(rows)), "failures": str(n_fail), "errors": "0",
             "skipped": str(n_skip), "time": "0"}
    root = ET.Element("testsuites", {"name": "dermatrace", **attrs})
    suite = ET.SubElement(root, "testsuite", {"name": "dermatrace.gates", **attrs})
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", {"name": "strict", "value": str(strict).lower()})
    ET.SubElement(props, "property", {"name": "passed",
                                      "value": str(bool(gates_section.get("passed"))).lower()})
    for r in rows:
        case = ET.SubElement(suite, "testcase", {"classname": f"gates.{_slug(r['name'])}",
                                                "name": _case_name(r), "time": "0"})
        details = _details(r)
        if r["verdict"] in failing:
            el = ET.SubElement(case, "failure", {"type": r["verdict"], "message": r["message"]})
            el.text = details
        elif r["verdict"] == "INSUFFICIENT":
            ET.SubElement(case, "skipped", {"message": r["message"]})
        elif r["verdict"] == "WARN":
            ET.SubElement(case, "system-out").text = r["message"]
    ET.indent(root)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data + b"\n")
    tmp.replace(path)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "gate"


def _case_name(r: Mapping) -> str:
    parts = [r["name"], r["metric"], r["scope"]]
    if r.get("group") is not None:
        parts.append(f"group={r['group']}")
    if r.get("grouping") and r["grouping"] != DEFAULT_GROUPING:
        parts.append(f"grouping={r['grouping']}")
    parts.append(r.get("variant") or "clean")
    return " · ".join(str(p) for p in parts)


def _details(r: Mapping) -> str:
    ci = r.get("ci")
    lines = [
        f"verdict: {r['verdict']}",
        f"metric: {r['metric']} ({r.get('kind', 'absolute')})",
        f"value: {r['value']!r}",
        f"ci: {ci!r}" + (f" ({r['ci_method']})" if r.get("ci_method") else ""),
        f"n: {r.get('n')!r}",
        f"bound: {r.get('bound')!r}" + (f", warn: {r['warn_bound']!r}" if r.get("warn_bound")
                                        else ""),
        f"where: scope={r['scope']} group={r.get('group')} groups={r.get('groups')} "
        f"grouping={r.get('grouping')} variant={r.get('variant')}",
        f"why: {r.get('reason')}",
    ]
    return "\n".join(lines)


def format_verdicts(gates_section: Mapping) -> str:
    """Human lines for the terminal: failures first, then warnings, insufficient, passes, and a
    closing count."""
    rows = list(gates_section.get("verdicts") or [])
    order = {"FAIL": 0, "WARN": 1, "INSUFFICIENT": 2, "PASS": 3}
    lines = [r["message"] for r in sorted(rows, key=lambda r: order.get(r["verdict"], 4))]
    for s in gates_section.get("skipped") or []:
        lines.append(f"SKIPPED {s['name']}: {s['reason']}")
    counts = gates_section.get("counts") or {}
    state = "PASSED" if gates_section.get("passed") else "FAILED"
    strict = " (strict: WARN fails)" if gates_section.get("strict") else ""
    lines.append(f"gates {state}{strict}: " + ", ".join(f"{counts.get(k, 0)} {k}"
                                                       for k in VERDICTS))
    return "\n".join(lines)
