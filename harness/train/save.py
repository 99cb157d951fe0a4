"""What a training run writes: the model (``M.keras``) and its sidecar (``M.json``).

The sidecar says what the output means, the decision threshold, and how the model was made
(recipe, data fingerprint, validation, seed, backbone weights and their sha256), so that
``harness run --model M.keras`` needs nothing more; its format and reading are
:mod:`harness.models.sidecar`. It holds no timings: the same data, recipe, options and seed give
the same sidecar, byte for byte, on the same machine and versions.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from harness.results.io import jsonable
from harness.train.options import TrainingOptions
from harness.train.training_data import TrainingData

__all__ = ["SIDECAR_VERSION", "save_model", "sidecar_spec"]

SIDECAR_VERSION = 1


def _versions() -> dict:
    import keras
    import sklearn
    import tensorflow as tf

    import harness

    return {"dermatrace": harness.__version__, "tensorflow": tf.__version__,
            "keras": keras.__version__, "scikit-learn": sklearn.__version__,
            "numpy": np.__version__}


def _settings(options: TrainingOptions) -> dict:
    """The recipe's settings as this run used them."""
    rec = options.recipe
    settings = {k: v for k, v in asdict(rec).items() if k != "name"}
    settings.update(input_size=options.size,
                    epochs=options.epochs if rec.head in ("dense", "cnn") else None,
                    val_fraction=float(options.val_fraction) if rec.finetune else None,
                    folds=int(options.folds))
    return settings


def sidecar_spec(*, options: TrainingOptions, data: TrainingData, seed: int, validation: dict,
                 backbone: dict, final_model: dict) -> dict:
    """The sidecar's content (plain JSON values).

    Parameters
    ----------
    options : TrainingOptions
        The run's checked options.
    data : TrainingData
        The training images read.
    seed : int
        The run's seed.
    validation : dict
        :func:`harness.train.validation.cross_validate`'s result; its ``threshold`` is the
        model's.
    backbone : dict
        Where the backbone's weights came from (or the small net's note).
    final_model : dict
        The final fit's info.
    """
    settings = _settings(options)
    ds = data.dataset
    spec = {
        "class_names": data.class_names,
        "positive_class": data.positive_class,
        "threshold": float(validation["threshold"]),
        "preprocessing": "none",
        "input_size": [options.size, options.size],
        "recipe": options.recipe.name,
        "data_fingerprint": ds.fingerprint,
        "validation": validation,
        "seed": int(seed),
        "epochs": settings["epochs"],
        "backbone": backbone,
        "training": {
            "sidecar_version": SIDECAR_VERSION,
            "data": str(data.folder),
            "n_images": len(ds),
            "class_counts": ds.class_counts(),
            "skipped": len(ds.skipped),
            "settings": settings,
            "final_model": final_model,
            "versions": _versions(),
        },
    }
    return jsonable(spec)


def save_model(model, spec: dict, *, out: Path) -> Path:
    """Check ``spec`` as ``harness run`` will read it, then write ``out`` and its sidecar.

    Returns the sidecar's path, ``out.with_suffix(".json")``.
    """
    from harness.models.sidecar import validate_fields

    sidecar = out.with_suffix(".json")
    validate_fields(spec, source=str(sidecar))
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    sidecar.write_text(json.dumps(spec, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return sidecar
