"""``harness demo``: the whole DermaTrace story on synthetic skin, with no data and no download.

1. Synthetic skin photographs of known skin tone (``harness.demo.synthetic``): a training set skewed
   towards light skin, on which lesions are harder to see on dark skin (a planted bias), and a test
   set balanced across skin tones.
2. Two classifiers trained with ``harness train``'s own code: a baseline (decision threshold 0.5)
   and a tuned model (balanced class weights and a threshold chosen on out-of-fold validation
   predictions).
3. Both audited (skin-tone groups, the clinical perturbation ladder, Grad-CAM drift), gated with
   ``configs/gates/ci-default.yaml``, and compared on paired resamples, through the Python API
   (``harness.api.audit`` and ``harness.api.compare``).

It prints where the two reports and the comparison are. The gates are expected to catch the
planted skin-tone gap; the demo itself exits 0 when everything ran.
"""
from __future__ import annotations

import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np

from harness.errors import EXIT_OK

SIZE = 64
N_TRAIN = 640
N_TEST = 480
FOLDS = 3
EPOCHS = 8
GRADCAM = 120
N_BOOT = 500


def _say(quiet: bool):
    def say(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr)
    return say


def _keep_default_threshold(model: Path, info: dict) -> None:
    """The baseline ships at the conventional threshold 0.5, as the original study's first model
    did; its out-of-fold validation (and the threshold it would have chosen) stays recorded."""
    import json

    sidecar = model.with_suffix(".json")
    spec = json.loads(sidecar.read_text(encoding="utf-8"))
    spec["validation"]["threshold_chosen_but_not_used"] = spec["threshold"]
    spec["threshold"] = 0.5
    sidecar.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")


def run_demo(*, out: Path, seed: int = 0, cache_dir: Path | None = None, progress: bool = False,
             quiet: bool = False, n_train: int = N_TRAIN, n_test: int = N_TEST,
             epochs: int = EPOCHS, gradcam: int = GRADCAM, n_boot: int = N_BOOT) -> int:
    from harness.demo.synthetic import make_synthetic_dataset
    from harness.train.run import train_model

    say = _say(quiet)
    t0 = time.perf_counter()
    out = Path(out)
    data = out / "data"
    say("1/4 synthetic skin: a light-skewed training set and a balanced test set")
    train_dir, test_dir = data / "train", data / "test"
    if not (train_dir / "manifest.csv").exists():
        # Imbalanced classes (a third positive), so that class weights have something to fix.
        labels = (np.random.default_rng(seed + 7).random(n_train) < 0.35).astype(int)
        make_synthetic_dataset(train_dir, n=n_train, size=SIZE, seed=seed, dark_fraction=0.15,
                               dark_visibility=0.45, labels=labels)
    if not (test_dir / "manifest.csv").exists():
        make_synthetic_dataset(test_dir, n=n_test, size=SIZE, seed=seed + 1, dark_fraction=0.5,
                               dark_visibility=0.45)

    say("2/4 training a baseline and a tuned model (harness train)")
    models = out / "models"
    baseline = models / "baseline.keras"
    tuned = models / "tuned.keras"
    # No pretrained weights without a download: a small net trained from scratch, through the
    # same harness-train code (folds, out-of-fold threshold, sidecar) as the MobileNetV2 recipes.
    common = dict(data=train_dir, backbone_weights="none", input_size=SIZE, seed=seed,
                  progress=progress, cache=cache_dir, folds=FOLDS, epochs=epochs)
    if not baseline.exists():
        info = train_model(out=baseline, recipe="small-cnn", **common)
        _keep_default_threshold(baseline, info)
    if not tuned.exists():
        train_model(out=tuned, recipe="small-cnn-weighted", **common)

    say("3/4 auditing both models (groups, perturbations, Grad-CAM, gates)")
    from harness.api import audit, compare

    gates = str(resources.files("configs").joinpath("gates/ci-default.yaml"))
    audits = {}
    for name, model in (("baseline", baseline), ("tuned", tuned)):
        audits[name] = audit(model=str(model), data=str(test_dir), out=out / "runs" / name,
                             gates=gates, seed=seed, gradcam=gradcam, n_boot=n_boot,
                             label_groupings=["chardon6_true"], cache=cache_dir,
                             progress=progress, quiet=True)
        verdicts = audits[name].results.get("gates", {}).get("counts", {})
        say(f"   {name}: " + ", ".join(f"{k} {v}" for k, v in verdicts.items() if v))

    say("4/4 comparing the tuned model with the baseline")
    comparison = compare(audits["baseline"], audits["tuned"], seed=seed)
    comparison_dir = comparison.save(out / "compare")
    for line in comparison.lines[:12]:
        say("   " + line)
    say(f"demo finished in {time.perf_counter() - t0:.0f} s")
    print(f"baseline report:   {audits['baseline'].run_dir / 'report.html'}")
    print(f"tuned report:      {audits['tuned'].run_dir / 'report.html'}")
    print(f"comparison report: {comparison_dir / 'comparison.html'}")
    return EXIT_OK
