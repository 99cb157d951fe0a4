"""``harness perturb D --out DIR [--preview]``: write the perturbation ladder."""
from __future__ import annotations

from harness.config import parse_list, parse_severities


def perturb(*, data: str, out: str, perturbations: str | None, severities: str | None,
            preview: bool, seed: int, size: int | None, quiet: bool) -> int:
    from perturbations.cli_perturb import run_perturb

    families = list(parse_list(perturbations, option="--perturbations")) if perturbations else None
    sev = list(parse_severities(severities)) if severities else None
    return run_perturb(data=data, out=out, families=families, severities=sev, preview=preview,
                       seed=seed, size=size, quiet=quiet)
