"""``harness report RUN_DIR``: re-render report.html from results.json alone."""
from __future__ import annotations

import sys

from harness.errors import EXIT_OK
from harness.results.io import read_results


def report(*, run_dir: str, quiet: bool) -> int:
    from reports import render_report

    results = read_results(run_dir)
    path = render_report(run_dir, results=results)
    if not quiet:
        print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    print(str(path))
    return EXIT_OK
