"""One audit, as a straight line of stages.

open the model -> plan the data -> the streamed pass (per chunk of images: decode, skin tone,
perturbation ladder, predictions (cached), achieved deltas, thumbnails; only per-image numbers
kept) -> groupings -> metrics -> Grad-CAM drift (the selected images read again) -> results.json +
samples.csv + strips (+ gates, junit.xml). The report is rendered from the run directory
afterwards (``reports``).

Each stage is a function of its own module in this package; it reads what the stages before it
produced and returns what it adds. Nothing reaches back.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.cache import RunCache
from harness.config import AuditConfig
from harness.gates.evaluate import check_gates, evaluate_gates, load_gates, write_junit
from harness.pipeline.analysis import metrics_stage
from harness.pipeline.findings import add_findings
from harness.pipeline.gradcam import gradcam_stage
from harness.pipeline.engines import make_engine
from harness.pipeline.inputs import model_stage
from harness.pipeline.revisit import Revisit
from harness.pipeline.skin_tone import grouping_names, skin_tone_stage
from harness.pipeline.stream import plan_stage, stream_stage
from harness.pipeline.thumbnails import write_thumbnails
from harness.pipeline.timer import Timer
from harness.pipeline.write import check_output_folder, results_config, samples_table
from harness.results import io as results_io
from perturbations import ladder


def _silent(message: str) -> None:
    """The default ``log``: say nothing."""


def run_audit(cfg: AuditConfig, *, progress: bool = False,
              log: Callable[[str], None] = _silent) -> dict[str, Any]:
    """Audit ``cfg.model`` on ``cfg.data`` and write the run directory ``cfg.out``.

    Predictions, heatmaps and measures are cached in ``cfg.cache_dir`` (None: no cache). Returns
    the results (as written to ``results.json``). Raises ``UserError`` for bad input before any
    expensive work where it can.
    """
    timer = Timer()
    t_start = time.perf_counter()
    out = Path(cfg.out)
    check_output_folder(out)  # before the work, not after it
    gates = load_gates(cfg.gates) if cfg.gates else None  # a malformed gate file stops here
    cache = RunCache(cfg.cache_dir)

    model = model_stage(cfg, cache=cache, timer=timer)
    source, model = plan_stage(cfg, model=model, cache=cache, timer=timer)
    variants = ladder(cfg.perturbations, cfg.severities) if cfg.perturbations else []
    if gates is not None:  # a gate file this run cannot answer fails now, not after the audit
        check_gates(gates, variants=[v.name for v in variants],
                    groupings=grouping_names(source.extra_columns, cfg.label_groupings),
                    audit={"audit": "kclass" if model.kclass else "binary",
                           "class_names": list(model.spec.class_names) if model.kclass else []})
    else:  # a label grouping the manifest lacks fails now too
        grouping_names(source.extra_columns, cfg.label_groupings)
    engine = make_engine(cfg)
    try:
        streamed = stream_stage(cfg, source=source, model=model, variants=variants,
                                engine=engine, cache=cache, out=out, timer=timer,
                                progress=progress, log=log)
    finally:
        engine.close()
    data, preds = streamed.data, streamed.predictions
    ds = data.dataset
    tone = skin_tone_stage(tone=streamed.tone, extra=ds.extra, settings=cfg.skin_tone,
                           scheme=cfg.skin_tone_scheme, label_groupings=cfg.label_groupings,
                           timer=timer)
    metrics = metrics_stage(cfg, y_true=data.y_true, p=preds.p, groupings=tone.groupings,
                            threshold=model.spec.threshold, timer=timer,
                            class_names=model.spec.class_names,
                            positive_class=model.spec.positive_class,
                            class_probs=preds.class_probs)
    revisit = Revisit(streamed.source, entry_of=streamed.entry_of, hashes=ds.image_hashes,
                      files=ds.files, skin_tone=cfg.skin_tone, seed=cfg.seed, timer=timer)
    cam = gradcam_stage(cfg=cfg, model=model, revisit=revisit, image_keys=data.image_keys,
                        variants=variants, probs=preds.p, class_probs=preds.class_probs,
                        groups=tone.groupings["group"], cache=cache, timer=timer,
                        progress=progress, log=log)

    samples = samples_table(ds=ds, model=model, p=preds.p, tone=tone.table, variants=variants,
                            class_probs=preds.class_probs)
    results = results_io.assemble(
        cfg=results_config(cfg, model=model), model=model, ds=ds, groups=tone.section,
        variants=preds.variants, metrics=metrics, gradcam=cam.section, y_true=data.y_true)
    results, samples = add_findings(results, samples)  # the report reads these, computes none
    with timer.stage("write"):
        results_io.write_samples(out / "samples.csv", samples)
        if cfg.thumbnails:
            write_thumbnails(out=out, revisit=revisit, variants=variants,
                             groups=tone.groupings["group"], gradcam=cam)
    results["engine"] = {**engine.describe(), "chunk_size": cfg.chunk_size}
    results["timings"] = dict(timer.seconds)
    # Written before the gates are judged: a gate that cannot be judged loses nothing computed.
    results_io.write_results(out / "results.json", results)
    if gates is not None:
        with timer.stage("gates"):
            results["gates"] = evaluate_gates(results, gates, strict=cfg.strict)
            write_junit(results["gates"], out / "junit.xml")
    results["timings"] = dict(timer.seconds,
                              total_before_report=round(time.perf_counter() - t_start, 4))
    results_io.write_results(out / "results.json", results)
    return results
