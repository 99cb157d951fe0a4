"""Wall time of ``harness train --recipe baseline`` on the DermNet NZ training split.

Two runs of ``harness.train.run.train_model``: with an empty feature cache (decode, one backbone
pass per image, 5-fold cross-validation of the head, the final head, saving), then again with
the cache filled (no backbone pass). Prints seconds per stage and images per second.

    .venv/bin/python bench/bench_train.py [--recipe baseline]
        [--data ../shared/data/dermnetnz_eczema_ad]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED = REPO.parent / "shared" / "data"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(SHARED / "dermnetnz_eczema_ad"))
    ap.add_argument("--weights", default=str(SHARED / "weights" /
                                             "mobilenet_v2_1.0_224_no_top_imagenet.weights.h5"))
    ap.add_argument("--recipe", default="baseline")
    ap.add_argument("--input-size", type=int, default=None)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    from harness.train.run import train_model

    import_s = time.perf_counter() - t0
    print(f"cores available: {len(os.sched_getaffinity(0))}; import harness.train.run: "
          f"{import_s:.1f} s")
    with tempfile.TemporaryDirectory(prefix="dermatrace-bench-train-") as tmp:
        tmp = Path(tmp)
        sidecars = []
        for label in ("cold cache", "warm cache"):
            t0 = time.perf_counter()
            summary = train_model(data=Path(args.data), out=tmp / f"{args.recipe}.keras",
                                  recipe=args.recipe, backbone_weights=args.weights,
                                  input_size=args.input_size, cache=tmp / "cache")
            wall = time.perf_counter() - t0
            n = summary["training"]["n_images"]
            t = summary["timings"]
            print(f"{args.recipe} ({label}): {wall:.1f} s wall for {n} images at "
                  f"{summary['input_size'][0]} px ({n / wall:.1f} images/s) | "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in t.items()))
            print(f"  validation (out-of-fold): AUC {summary['validation']['auc']:.3f}, "
                  f"macro-F1 {summary['validation']['macro_f1']:.3f} at threshold "
                  f"{summary['threshold']:.2f}")
            sidecars.append(Path(summary["sidecar"]).read_bytes())
        print(f"same sidecar bytes from both runs (same seed): {sidecars[0] == sidecars[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
