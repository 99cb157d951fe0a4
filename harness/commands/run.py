"""``harness run``: audit a model on labelled images (a thin call of ``harness.api.audit``)."""
from __future__ import annotations

import sys
from pathlib import Path

from harness.config import check_engine, check_option
from harness.errors import EXIT_GATE_FAILED, EXIT_OK, UserError


def default_run_dir(model: str) -> Path:
    name = Path(model.split(":")[0]).stem or "model"
    return Path("runs") / name


def run(*, model: str, data: str, out: str | None, cache_dir: Path | None, progress: bool,
        quiet: bool, **options) -> int:
    """Audit ``model`` on ``data``; write results.json, samples.csv, report.html (+ junit.xml).

    ``options`` are the remaining ``harness run`` options by their ``harness.audit`` names (None:
    not given).
    """
    if not data or not Path(data).exists():
        raise UserError(f"--data {data}: not found; give a folder of class subfolders or a CSV manifest")
    if ":" not in model or Path(model).exists():
        if not Path(model).exists():
            raise UserError(f"--model {model}: not found; give a .keras/.h5/.tflite file, a SavedModel "
                            "folder, or module:function")
    for key, flag in (("n_boot", "--n-boot"), ("batch_size", "--batch-size"),
                      ("chunk_size", "--chunk-size"), ("workers", "--workers")):
        if options.get(key) is not None:  # named as the flag here, by the config's own rule
            check_option(key, options[key], source=flag)
    if options.get("engine") is not None:
        check_engine(options["engine"], source="--engine")
    from harness.api import audit  # the pipeline, loaded once the arguments are known to be there

    run_dir = Path(out) if out else default_run_dir(model)
    result = audit(model=model, data=data, out=run_dir, cache=cache_dir, progress=progress,
                   quiet=quiet, **options)
    report = run_dir / "report.html"
    log = _log(quiet)
    _print_headline(result.results, log)
    log(f"report: {report} ({report.stat().st_size / 1e6:.1f} MB)")
    print(str(report))
    return EXIT_OK if result.passed else EXIT_GATE_FAILED


def _log(quiet: bool):
    def log(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr)
    return log


def _print_headline(results: dict, log) -> None:
    grouping = ((results.get("metrics") or {}).get("groupings") or {}).get("group") or {}
    overall = (((grouping.get("variants") or {}).get("clean") or {}).get("overall") or {}).get("metrics") or {}
    parts = []
    for name in ("accuracy", "balanced_accuracy", "roc_auc"):
        m = overall.get(name)
        if isinstance(m, dict) and m.get("value") is not None:
            ci = m.get("ci") or [None, None]
            if ci[0] is not None:
                parts.append(f"{name} {m['value']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]")
            else:
                parts.append(f"{name} {m['value']:.3f}")
    if parts:
        log("clean: " + ", ".join(parts))
    g = results.get("gates")
    if g:
        counts = g.get("counts", {})
        log("gates: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
