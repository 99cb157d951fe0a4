"""``harness gate RUN_DIR --gates G``: re-check gates from results.json alone (no TensorFlow)."""
from __future__ import annotations

import sys
from pathlib import Path

from harness.errors import EXIT_GATE_FAILED, EXIT_OK
from harness.results.io import read_results


def gate(*, run_dir: str, gates: str, strict: bool, quiet: bool) -> int:
    from harness.gates.evaluate import evaluate_gates, format_verdicts, load_gates, write_junit

    gate_list = load_gates(gates)
    results = read_results(run_dir)
    section = evaluate_gates(results, gate_list, strict=strict)
    write_junit(section, Path(run_dir) / "junit.xml")
    if not quiet:
        print(format_verdicts(section), file=sys.stderr)
    return EXIT_OK if section.get("passed", False) else EXIT_GATE_FAILED
