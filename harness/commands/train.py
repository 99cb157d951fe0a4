"""``harness train``: train the DermaTrace classifier (baseline, class-weighted, finetune, ...)."""
from __future__ import annotations

import sys
from pathlib import Path

from harness.errors import EXIT_OK, UserError


def train(*, data: str, out: str, recipe: str, backbone_weights: str, val_fraction: float,
          epochs: int | None, seed: int, input_size: int | None, cache_dir: Path | None,
          progress: bool, quiet: bool, folds: int = 5, positive_class: str | None = None,
          imagenet_fallbacks: list[str] | None = None) -> int:
    from harness.train.run import train_model

    if not Path(data).exists():
        raise UserError(f"--data {data}: not found; give a folder of class subfolders (or one with train/)")
    if not out.endswith(".keras"):
        raise UserError(f"--out {out}: the model is written as a .keras file; give a name ending in .keras")
    if not 0.0 < val_fraction < 0.9:
        raise UserError(f"--val-fraction: must be between 0 and 0.9, got {val_fraction}")
    summary = train_model(data=Path(data), out=Path(out), recipe=recipe,
                          backbone_weights=backbone_weights, val_fraction=val_fraction,
                          epochs=epochs, seed=seed, input_size=input_size, folds=folds,
                          positive_class=positive_class, progress=progress, cache=cache_dir,
                          imagenet_fallbacks=[Path(p) for p in (imagenet_fallbacks or [])])
    if not quiet:
        val = summary.get("validation", {}) if isinstance(summary, dict) else {}
        shown = ", ".join(f"{k} {v:.3f}" for k, v in val.items() if isinstance(v, float))
        held = val.get("at_fold_thresholds") or {}
        if isinstance(held.get("macro_f1"), float):
            shown += f"; each fold at the others' threshold: macro_f1 {held['macro_f1']:.3f}"
        print(f"trained {recipe}: {out} (out of fold: {shown})", file=sys.stderr)
    print(out)
    return EXIT_OK
