"""Train each recipe on DermNet NZ ``train/`` and evaluate it on ``test/``; print a table.

Training reads ``train/`` only (``harness.train.run.train_model``); the threshold comes from
out-of-fold predictions on ``train/``. Evaluation then opens the saved model the way
``harness run`` does (``harness.models.open.open_model``: sidecar, safe-mode load) and scores
``test/`` at the sidecar's threshold.

    .venv/bin/python bench/eval_recipes.py [--recipes baseline,class-weighted,finetune,linear-head]
        [--out-dir /tmp/dermatrace-models] [--cache /tmp/dermatrace-cache] [--seed 0]
        [--input-size N] [--folds 5] [--epochs N] [--data ../shared/data/dermnetnz_eczema_ad]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

SHARED = REPO.parent / "shared" / "data"


def bootstrap_auc(y, p, *, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile 95% interval of the ROC AUC over images resampled with replacement."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        if len(np.unique(y[idx])) == 2:
            values.append(roc_auc_score(y[idx], p[idx]))
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(SHARED / "dermnetnz_eczema_ad"))
    ap.add_argument("--weights", default=str(SHARED / "weights" /
                                             "mobilenet_v2_1.0_224_no_top_imagenet.weights.h5"))
    ap.add_argument("--recipes", default="baseline,class-weighted,finetune,linear-head")
    ap.add_argument("--out-dir", default="/tmp/dermatrace-models")
    ap.add_argument("--cache", default="/tmp/dermatrace-cache")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--input-size", type=int, default=None)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--suffix", default="", help="appended to each model's file name")
    args = ap.parse_args(argv)

    import numpy as np

    from harness.data.load import load_dataset
    from harness.models.open import open_model
    from harness.train.run import train_model
    from harness.train.validation import decision_metrics

    data = Path(args.data)
    out_dir = Path(args.out_dir)
    rows = []
    test_cache: dict[int, object] = {}
    for recipe in args.recipes.split(","):
        out = out_dir / f"{recipe}{args.suffix}.keras"
        t0 = time.perf_counter()
        summary = train_model(data=data, out=out, recipe=recipe, backbone_weights=args.weights,
                              seed=args.seed, input_size=args.input_size, folds=args.folds,
                              epochs=args.epochs, cache=Path(args.cache), progress=True)
        train_s = time.perf_counter() - t0
        model = open_model(str(out))
        size = model.spec.input_size
        if size not in test_cache:
            test_cache[size] = load_dataset(data / "test", size=size)
        test = test_cache[size]
        y = (np.asarray(test.labels) == model.spec.positive_class).astype(int)
        t0 = time.perf_counter()
        p = model.predict_proba(test.images)
        eval_s = time.perf_counter() - t0
        m = decision_metrics(y, p, threshold=model.spec.threshold)
        lo, hi = bootstrap_auc(y, p, seed=args.seed)
        v = summary["validation"]
        rows.append({"recipe": recipe, "input": size[0], "threshold": model.spec.threshold,
                     "val_auc": v["auc"], "val_acc": v["accuracy"], "val_f1": v["macro_f1"],
                     "test_auc": m["auc"], "test_auc_ci95": [lo, hi],
                     "test_acc": m["accuracy"], "test_f1": m["macro_f1"],
                     "test_sens": m["sensitivity"], "test_spec": m["specificity"],
                     "n_val": v["n"], "n_test": m["n"], "train_s": train_s, "eval_s": eval_s,
                     "timings": summary["timings"], "model": str(out)})
        print(json.dumps(rows[-1]), flush=True)

    print()
    head = (f"{'recipe':16s} {'px':>4s} {'thr':>5s} | {'val AUC':>7s} {'acc':>6s} {'mF1':>6s} "
            f"| {'test AUC':>8s} {'95% CI':>11s} {'acc':>6s} {'mF1':>6s} {'sens':>6s} "
            f"{'spec':>6s} | {'train s':>7s}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['recipe']:16s} {r['input']:4d} {r['threshold']:5.2f} | {r['val_auc']:7.3f} "
              f"{r['val_acc']:6.3f} {r['val_f1']:6.3f} | {r['test_auc']:8.3f} "
              f"{r['test_auc_ci95'][0]:.2f}-{r['test_auc_ci95'][1]:.2f} {r['test_acc']:6.3f} "
              f"{r['test_f1']:6.3f} {r['test_sens']:6.3f} {r['test_spec']:6.3f} | "
              f"{r['train_s']:7.1f}")
    print(f"(validation: {rows[0]['n_val'] if rows else 0} training images, out-of-fold; "
          f"test: {rows[0]['n_test'] if rows else 0} images)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
