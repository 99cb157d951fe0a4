"""``results.json`` and ``samples.csv``: the seam between computing and presenting.

The report, the gates, the JUnit file and ``compare`` read only these two files. ``results.json``
carries a schema version; a stage may add fields, and readers ignore what they do not know. Only
``timings`` may differ between two runs of the same inputs.
"""
from __future__ import annotations

import json
import math
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING

import numpy as np

from harness.errors import UserError

if TYPE_CHECKING:  # pandas is heavy; the gate command reads results.json without it
    import pandas as pd

SCHEMA_VERSION = "1.0"
RESULTS_FILE = "results.json"
SAMPLES_FILE = "samples.csv"


#: Texts that mean "no label" in a manifest column or samples.csv.
MISSING_LABELS = frozenset({"", "-1", "nan", "NA", "<NA>", "None"})


def group_label(x) -> str:
    """A label of a grouping column as the audit names it: missing (None, NaN, empty, -1, NA)
    -> ``"unknown"``, an integral float -> an integer (``3.0`` -> ``"3"``), else the trimmed text.
    The pipeline labels manifest columns with it and ``compare`` reads samples.csv back with it,
    so the two always agree."""
    if x is None:
        return "unknown"
    if isinstance(x, (float, np.floating)):
        if math.isnan(x):
            return "unknown"
        if float(x).is_integer():
            return str(int(x))
    text = str(x).strip()
    return "unknown" if text in MISSING_LABELS else text


def value_summary(values) -> dict[str, Any]:
    """``n``, mean, median, 5th and 95th percentiles of the finite values (None when none are)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"n": 0, "mean": None, "median": None, "p05": None, "p95": None}
    return {"n": int(v.size), "mean": float(np.mean(v)), "median": float(np.median(v)),
            "p05": float(np.percentile(v, 5)), "p95": float(np.percentile(v, 95))}


def variant_column(name: str) -> str:
    """``blur@3`` -> ``p[blur@3]`` (the samples.csv column of a variant's probabilities)."""
    return f"p[{name}]"


def class_column(name: str) -> str:
    """``melanoma`` -> ``p:melanoma`` (the samples.csv column of a class's clean probability)."""
    return f"p:{name}"


def pred_column(name: str) -> str:
    """``blur@3`` -> ``pred[blur@3]`` (a K-class audit's top class under a variant)."""
    return f"pred[{name}]"


def samples_frame(*, files, labels, p: dict[str, np.ndarray], pred, tone: "pd.DataFrame",
                  extra: "pd.DataFrame", variant_order: list[str],
                  class_probs: dict[str, np.ndarray] | None = None,
                  variant_pred: dict[str, np.ndarray] | None = None) -> "pd.DataFrame":
    """One row per image: file, label, p, pred, skin tone, manifest columns, one p[...] per variant.

    A K-class audit adds ``p:<class>`` after ``pred`` (``class_probs``: class -> (N,)) and
    ``pred[<variant>]`` after each ``p[<variant>]`` (``variant_pred``: variant -> (N,) names)."""
    import pandas as pd

    frame = pd.DataFrame({"file": list(files), "label": list(labels), "p": p["clean"], "pred": list(pred)})
    for name, values in (class_probs or {}).items():
        frame[class_column(name)] = values
    for col in ("ita", "ita_iqr", "skin_fraction", "group", "fitzpatrick_est"):
        if col in tone.columns:
            frame[col] = tone[col].to_numpy()
    for col in extra.columns:
        if col not in frame.columns:
            frame[col] = extra[col].to_numpy()
    for name in variant_order:
        frame[variant_column(name)] = p[name]
        if variant_pred is not None:
            frame[pred_column(name)] = list(variant_pred[name])
    return frame


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("dermatrace", "numpy", "pandas", "scikit-learn", "fairlearn", "opencv-python-headless",
                 "tensorflow-cpu", "keras"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def assemble(*, cfg, model, ds, groups: dict, variants: list[dict], metrics: dict, gradcam: dict,
             y_true: np.ndarray) -> dict[str, Any]:
    """The results document, section by section, in a fixed order."""
    spec = model.spec
    model_section = {
        "path": str(model.path),
        "name": Path(str(model.path)).stem if ":" not in str(model.path) else str(model.path),
        "hash": model.hash,
        "format": model.format,
        "class_names": list(spec.class_names),
        "positive_class": spec.positive_class,
        "threshold": float(spec.threshold),
        "input_size": list(spec.input_size),
        "preprocessing": spec.preprocessing,
        "binary_view": bool(model.binary_view),
        "output_kind": getattr(model, "output_kind", None),
        "supports_gradients": bool(model.supports_gradients),
        "sidecar": jsonable(spec.extra),
    }
    if getattr(model, "kclass", False):
        model_section["kclass"] = True
        model_section["kclass_note"] = (
            f"a {len(spec.class_names)}-class model audited as {len(spec.class_names)} classes: "
            "the prediction is the top class (no threshold); --positive-class gives a binary view")
    if model.binary_view:
        model_section["binary_view_note"] = (
            f"binary view of a {len(spec.class_names)}-class model: '{spec.positive_class}' is "
            "positive, every other label counts as negative")
    dataset_section = ds.summary()
    if getattr(model, "kclass", False):
        counts = np.bincount(np.asarray(y_true, dtype=np.intp), minlength=len(spec.class_names))
        dataset_section["class_counts"] = dict(zip(spec.class_names, counts.tolist()))
    else:
        dataset_section.update({
            "n_positive": int(y_true.sum()),
            "n_negative": int(len(y_true) - y_true.sum()),
        })
    dataset_section.update({
        "n_skipped": len(ds.skipped),
        "extra_columns": [str(c) for c in ds.extra.columns],
    })
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "dermatrace", "version": _tool_version()},
        "model": model_section,
        "dataset": dataset_section,
        "config": cfg.to_json(),
        "groups": groups,
        "perturbations": {"variants": variants},
        "metrics": metrics,
        "gradcam": gradcam,
        "versions": _versions(),
    }


def _tool_version() -> str:
    from harness import __version__

    return __version__


def jsonable(value: Any) -> Any:
    """A deep copy in plain JSON types: numpy scalars and arrays to Python, NaN/inf to None,
    tuples to lists, paths to strings. The one sanitiser for every JSON file DermaTrace writes."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``: readers see the old
    file or the new one, never a partial one; the temporary file is removed on any failure
    (KeyboardInterrupt included). The file gets the mode a plain ``open`` would give it (0644
    under umask 022), not ``mkstemp``'s private 0600. The one atomic writer of results, reports, thumbnails and the
    cache."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600: give the file the usual mode
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8 (newlines as given)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any, *, indent: int | None = 1) -> None:
    """Write ``data`` as plain JSON (:func:`jsonable`, no NaN) atomically."""
    atomic_write_text(Path(path), json.dumps(jsonable(data), indent=indent, allow_nan=False) + "\n")


def write_results(path: Path, results: dict[str, Any]) -> None:
    """Write ``results.json`` atomically (plain JSON, no NaN)."""
    write_json(path, results)


def write_samples(path: Path, samples: "pd.DataFrame") -> None:
    """Write ``samples.csv`` atomically; floats keep full precision."""
    atomic_write_text(Path(path), samples.to_csv(index=False, float_format="%.10g"))


def read_results(run_dir: str | Path) -> dict[str, Any]:
    """Read a run directory's ``results.json``; UserError when it is missing or unreadable."""
    run = Path(run_dir)
    path = run / RESULTS_FILE if run.is_dir() else run
    if not path.is_file():
        raise UserError(f"{run_dir}: no {RESULTS_FILE} here; give a run directory written by "
                        "'harness run'")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc.__class__.__name__}); re-run the audit") from exc
    if not isinstance(data, dict) or "schema_version" not in data:
        raise UserError(f"{path}: not a DermaTrace results file (no schema_version)")
    major = str(data["schema_version"]).split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise UserError(f"{path}: results schema {data['schema_version']} is not supported by this "
                        f"version (expects {SCHEMA_VERSION}); re-run the audit")
    return data


def read_samples(run_dir: str | Path) -> "pd.DataFrame":
    import pandas as pd

    path = Path(run_dir) / SAMPLES_FILE
    if not path.is_file():
        raise UserError(f"{run_dir}: no {SAMPLES_FILE} here; give a run directory written by 'harness run'")
    return pd.read_csv(path, keep_default_na=False, na_values=[""])
