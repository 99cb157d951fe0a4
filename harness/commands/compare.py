"""``harness compare --baseline RUN_A --candidate RUN_B``: is the candidate really better?

Writes ``OUT/comparison.json``, ``OUT/comparison.html`` (and ``OUT/junit.xml`` with ``--gates``;
default ``OUT = RUN_B/compare``), prints the findings to stderr and the report's path to stdout.
Exit 0, or 1 when a gate failed; 2 when the runs are not of the same images.
"""
from __future__ import annotations

import sys
from pathlib import Path

from harness.errors import EXIT_GATE_FAILED, EXIT_OK


def compare(*, baseline: str, candidate: str, gates: str | None, strict: bool, out: str | None,
            seed: int, quiet: bool) -> int:
    from harness.compare.runs import run_compare

    out_dir = Path(out) if out else Path(candidate) / "compare"
    summary = run_compare(baseline=Path(baseline), candidate=Path(candidate), out=out_dir,
                          gates=gates, strict=strict, seed=seed)
    if not quiet:
        for line in summary["lines"]:
            print(line, file=sys.stderr)
    print(str(summary["report"]))
    return EXIT_OK if summary["passed"] else EXIT_GATE_FAILED
