"""``harness ita D [--out CSV]``: the skin-tone estimate of every image."""
from __future__ import annotations


def ita(*, data: str, out: str | None, scheme: str, size: int, quiet: bool) -> int:
    from subgroups.cli_ita import run_ita

    return run_ita(data=data, out=out, scheme=scheme, size=size, quiet=quiet)
