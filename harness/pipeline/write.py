"""The last stage's helpers: the run directory, the per-image table and the configuration as
results.json records it."""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from harness.config import AuditConfig
from harness.data.arrays import ArrayData
from harness.data.load import Dataset
from harness.errors import UserError
from harness.models.open import LoadedModel
from harness.models.outputs import top_class_index
from harness.results import io as results_io


def check_output_folder(out: Path) -> None:
    """Create ``out`` (the run directory) and make sure files can be written into it."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        what = "is a file" if out.is_file() else (exc.strerror or type(exc).__name__).lower()
        raise UserError(f"--out {out}: {what}; give a folder DermaTrace can create and write "
                        "into") from None


def samples_table(*, ds: Dataset, model: LoadedModel, p: dict[str, np.ndarray],
                  tone: pd.DataFrame, variants: list,
                  class_probs: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """``samples.csv``: one row per image, with the predicted class at the model's threshold; for
    a K-class model (``class_probs`` given) the top class, its probability ``p`` and one
    ``p:<class>`` column per class, and per variant its top class ``pred[<variant>]``."""
    spec = model.spec
    if class_probs is not None:
        names = np.asarray(spec.class_names, dtype=object)
        return results_io.samples_frame(
            files=ds.files, labels=ds.labels, p=p, pred=names[top_class_index(class_probs["clean"])],
            tone=tone, extra=ds.extra, variant_order=[v.name for v in variants],
            class_probs={c: class_probs["clean"][:, i] for i, c in enumerate(spec.class_names)},
            variant_pred={v.name: names[top_class_index(class_probs[v.name])] for v in variants})
    pred = predicted_class(p["clean"], model=model)
    return results_io.samples_frame(files=ds.files, labels=ds.labels, p=p, pred=pred, tone=tone,
                                    extra=ds.extra, variant_order=[v.name for v in variants])


def negative_class(model: LoadedModel) -> str:
    """The name ``pred`` gives an image below the threshold: the other class of a binary model,
    ``not <positive>`` for the binary view of a K-class model."""
    spec = model.spec
    negatives = [c for c in spec.class_names if c != spec.positive_class]
    return negatives[0] if len(negatives) == 1 else f"not {spec.positive_class}"


def predicted_class(p: np.ndarray, *, model: LoadedModel) -> np.ndarray:
    """``samples.csv``'s ``pred``: the positive class where ``p >= threshold``, else
    :func:`negative_class`."""
    spec = model.spec
    return np.where(np.asarray(p) >= spec.threshold, spec.positive_class, negative_class(model))


def results_config(cfg: AuditConfig, *, model: LoadedModel) -> AuditConfig:
    """``cfg`` with an in-memory model or array data named as results.json records them: the
    model by :attr:`LoadedModel.path`, arrays as ``ArrayData.ROOT``. Paths stay as given."""
    named = {}
    if not isinstance(cfg.model, (str, Path)):
        named["model"] = model.path
    if isinstance(cfg.data, ArrayData):
        named["data"] = ArrayData.ROOT
    return dataclasses.replace(cfg, **named) if named else cfg
