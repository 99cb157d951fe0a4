"""``harness compare --baseline RUN_A --candidate RUN_B``: is the candidate really better?

A thin call of ``harness.api.compare``. Writes ``OUT/comparison.json``, ``OUT/comparison.html``
(and ``OUT/junit.xml`` with ``--gates``; default ``OUT = RUN_B/compare``), prints the findings to
stderr (under ``--quiet`` only its warnings, e.g. a run compared with itself) and the report's
path to stdout. Exit 0, or 1 when a gate failed; 2 when the runs are not of the same images.
"""
from __future__ import annotations

import sys
from pathlib import Path

from harness.errors import EXIT_GATE_FAILED, EXIT_OK


def compare(*, baseline: str, candidate: str, gates: str | None, strict: bool, out: str | None,
            seed: int, quiet: bool) -> int:
    from harness.api import compare as compare_audits  # pandas and the comparison: on use

    out_dir = Path(out) if out else Path(candidate) / "compare"
    comparison = compare_audits(Path(baseline), Path(candidate), gates=gates, strict=strict,
                                seed=seed)
    comparison.save(out_dir)
    for line in comparison.lines if not quiet else comparison.warnings:
        print(line, file=sys.stderr)
    print(str(out_dir / "comparison.html"))
    return EXIT_OK if comparison.passed else EXIT_GATE_FAILED
