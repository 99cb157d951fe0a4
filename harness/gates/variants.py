"""Which variants of a run a gate judges, and the error a gate the run cannot answer raises.

Plain Python only (like :mod:`harness.gates.evaluate`): ``harness gate`` reads it without numpy.
"""
from __future__ import annotations

from harness.gates.file import Gate, metric_kind
from harness.results.variants import families_of as run_families
from harness.results.variants import split_variant


def gate_error(gate: Gate, problem: str):
    """The ``UserError`` of a gate: ``"<gate label>: <problem>"``."""
    from harness.errors import UserError

    return UserError(f"{gate.label}: {problem}")


def resolve_variants(gate: Gate, variants: list[str], *, subject: str = "this run") -> list[str]:
    """The variant names a gate judges in a run that has ``variants`` ("clean" first).

    Raises UserError when a variant the gate needs was not run (naming it and how to re-run), or
    when a name is not a perturbation at all.
    """
    kind = metric_kind(gate.metric)
    perturbed_only = kind in ("flip", "drop", "drift")
    available = set(variants)
    families = run_families(variants)
    others = [v for v in variants if v != "clean" and split_variant(v) is None]
    names = gate.perturbation
    if names is None:
        if gate.severity is None and not perturbed_only:
            return ["clean"]
        names = ("all",)
    out: list[str] = []
    for name in names:
        if name == "clean":
            out.append("clean")
        elif name == "all":
            if not families and not others:
                raise gate_error(gate, f"{gate.metric} needs perturbed images, which {subject} "
                                        f"did not include; re-run with --perturbations clinical")
            for fam, sevs in families.items():
                out.extend(_family_variants(gate, fam, sevs, available, variants, subject))
            if gate.severity is None:
                out.extend(others)
        elif split_variant(name) is not None:
            if name not in available:
                fam, sev = split_variant(name)
                _missing(gate, name, variants, fam, [sev], subject)
            out.append(name)
        elif name in families:
            out.extend(_family_variants(gate, name, families[name], available, variants, subject))
        elif name in available and gate.severity is None:
            out.append(name)
        else:
            _missing(gate, f"{name}@{gate.severity[0]}" if gate.severity else name, variants, name,
                     list(gate.severity or [1, 2, 3, 4, 5]), subject)
    return list(dict.fromkeys(out))


def _family_variants(gate: Gate, family: str, sevs: list, available: set, variants,
                     subject: str) -> list[str]:
    wanted = list(gate.severity) if gate.severity is not None else list(sevs)
    names = [f"{family}@{s}" for s in wanted]
    missing = [n for n in names if n not in available]
    if missing:
        _missing(gate, missing[0], variants, family, wanted, subject)
    return names


def _missing(gate: Gate, needed: str, variants: list[str], family: str, severities: list,
             subject: str) -> None:
    have = _describe_variants(variants)
    if not _known_family(family):
        raise gate_error(gate, f"unknown perturbation {family!r} ({subject} has: {have}); use a "
                                f"family name such as blur, a variant such as blur@3, or 'all'")
    raise gate_error(gate, f"needs perturbation {needed}, which {subject} did not include (it "
                            f"has: {have}); re-run with --perturbations {family} --severities "
                            f"{','.join(str(s) for s in severities)}")


def _known_family(name: str) -> bool:
    """Whether ``name`` is a perturbation family (only asked on the error path: the registry
    imports the image kernels)."""
    try:
        from perturbations import FAMILIES
    except Exception:  # registry unavailable: do not claim the name is unknown
        return True
    return name in FAMILIES


def _describe_variants(variants: list[str]) -> str:
    fams = run_families(variants)
    parts = []
    for fam, sevs in fams.items():
        ints = all(isinstance(s, int) for s in sevs)
        if ints and len(sevs) > 1 and sevs == list(range(sevs[0], sevs[-1] + 1)):
            parts.append(f"{fam}@{sevs[0]}-{sevs[-1]}")
        else:
            parts.append(f"{fam}@{','.join(str(s) for s in sevs)}")
    parts += [v for v in variants if v != "clean" and split_variant(v) is None]
    return ", ".join(parts) or "no perturbations"
