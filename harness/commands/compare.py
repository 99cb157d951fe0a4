"""``harness compare --baseline RUN_A --candidate RUN_B``: is the candidate really better?"""
from __future__ import annotations

import sys
from pathlib import Path

from harness.errors import EXIT_GATE_FAILED, EXIT_OK


def compare(*, baseline: str, candidate: str, gates: str | None, strict: bool, out: str | None,
            seed: int, quiet: bool) -> int:
    from harness.compare import run_compare

    out_dir = Path(out) if out else Path(candidate) / "compare"
    summary = run_compare(baseline=Path(baseline), candidate=Path(candidate), out=out_dir,
                          gates=gates, strict=strict, seed=seed)
    if not quiet:
        for line in summary.get("lines", []):
            print(line, file=sys.stderr)
    print(str(summary["report"]))
    return EXIT_OK if summary.get("passed", True) else EXIT_GATE_FAILED
