"""The model sidecar ``M.json``: what a classifier's outputs mean and what input it expects.

A sidecar sits beside the model (``M.keras`` -> ``M.json``; a SavedModel folder ``M/`` ->
``M.json``; ``path/mod.py:fn`` -> ``path/mod.json``) or is named with ``--model-spec``::

    {"class_names": ["atopic_dermatitis", "eczema"], "positive_class": "eczema",
     "threshold": 0.5, "preprocessing": "none", "input_size": [224, 224]}

``preprocessing`` is one of the names in :data:`PREPROCESSING`, or an explicit normalisation
``{"scale": s, "mean": [r, g, b], "std": [r, g, b]}`` meaning ``(x * scale - mean) / std`` on
pixels x in 0..255 (each key optional: scale 1, mean 0, std 1; mean and std may be one number).
``{"scale": 1/255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}`` is
``"imagenet_torch"``, torchvision's normalisation.

Every other key (``recipe``, ``data_fingerprint``, ``validation``, ...) is kept in
``ModelSpec.extra`` without being interpreted, except three optional ones read by the model
adapters: ``output`` (``"probabilities"`` or ``"logits"``, overriding detection),
``output_key`` (which output of a multi-output SavedModel signature or ONNX graph to read) and
``layout`` (``"nchw"`` or ``"nhwc"``, for an ONNX graph whose input shape does not tell).

What the sidecar leaves out is inferred where it can be (:func:`resolve_spec`), and the names of
the inferred fields are recorded in ``extra["inferred"]``:

- ``input_size`` from the model's input shape;
- ``class_names`` from the dataset's labels when their number matches the model's outputs, sorted
  alphabetically (the order Keras' ``image_dataset_from_directory`` gives them); a single sigmoid
  output needs two labels and means P(second name);
- ``positive_class``: the second of two class names; none for more classes (the model is audited
  as K classes unless ``--positive-class`` names one);
- ``threshold`` 0.5 and ``preprocessing`` ``"none"``.

Where a field cannot be inferred, a ``UserError`` says which field to write into which file.
Nothing here imports TensorFlow.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from harness.errors import UserError

#: Preprocessing the model expects, applied by DermaTrace before the forward pass.
#: "none": float32 pixels 0..255 (the model scales them itself, e.g. a Rescaling layer).
PREPROCESSING = ("none", "scale_0_1", "mobilenet_v2", "imagenet_caffe", "imagenet_torch")

#: Keys of an explicit preprocessing object: ``(x * scale - mean) / std``.
NORMALISATION_KEYS = ("scale", "mean", "std")

#: The fields a sidecar names; everything else goes to ``ModelSpec.extra``.
FIELDS = ("class_names", "positive_class", "threshold", "preprocessing", "input_size")

#: Allowed values of the optional ``output`` key.
OUTPUT_MODES = ("probabilities", "logits")

#: Allowed values of the optional ``layout`` key (ONNX graphs: where the channels are).
LAYOUTS = ("nchw", "nhwc")

DEFAULT_THRESHOLD = 0.5
DEFAULT_PREPROCESSING = "none"


@dataclass(frozen=True)
class ModelSpec:
    """What a model's outputs mean and what it expects (the sidecar, validated and completed).

    Attributes
    ----------
    class_names : list of str
        Class names in output order (for one sigmoid output: ``[negative, positive]``).
    positive_class : str or None
        The class whose probability DermaTrace audits; one of ``class_names``. None for a model
        with more than two classes and no positive class: it is audited as K classes.
    threshold : float
        Decision threshold on the positive-class probability, in (0, 1).
    preprocessing : str or dict
        One of :data:`PREPROCESSING`, or ``{"scale": float, "mean": [3 floats], "std": [3
        floats]}`` (see :func:`parse_normalisation`).
    input_size : tuple of int
        ``(width, height)`` in pixels.
    extra : dict
        Every other sidecar key, kept as is, plus ``"inferred"`` (sorted names of inferred fields)
        and ``"sidecar"`` (the file read, or None).
    """

    class_names: list[str]
    positive_class: str | None
    threshold: float
    preprocessing: str | dict
    input_size: tuple[int, int]
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """Plain-Python view for results.json."""
        return {
            "class_names": list(self.class_names),
            "positive_class": self.positive_class,
            "threshold": float(self.threshold),
            "preprocessing": (dict(self.preprocessing) if isinstance(self.preprocessing, dict)
                              else self.preprocessing),
            "input_size": [int(self.input_size[0]), int(self.input_size[1])],
            "inferred": list(self.extra.get("inferred", [])),
        }


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters so that error messages stay one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def sidecar_candidates(model_file: Path) -> list[Path]:
    """Where a sidecar beside ``model_file`` may be (a file or a SavedModel folder)."""
    model_file = Path(model_file)
    if model_file.is_dir():
        return [model_file.parent / (model_file.name + ".json")]
    return [model_file.with_suffix(".json")]


def read_sidecar(path: Path) -> dict:
    """Read and validate a sidecar file.

    Parameters
    ----------
    path : Path
        The JSON file.

    Returns
    -------
    dict
        The known fields that are present, normalised (``input_size`` as a ``(w, h)`` tuple,
        ``threshold`` as float), and ``"extra"``: every other key.

    Raises
    ------
    UserError
        One line naming the file and the field when the file is unreadable, not JSON, or a field
        is malformed.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: model sidecar not found; give an existing JSON file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the model sidecar ({exc}); check the file") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "fix the model sidecar"
        ) from None
    if not isinstance(raw, dict):
        raise UserError(
            f"{path}: expected a JSON object with {', '.join(FIELDS)} "
            f"(got {type(raw).__name__}); fix the model sidecar"
        )
    return validate_fields(raw, source=str(path))


def validate_fields(raw: dict, *, source: str) -> dict:
    """Validate the known sidecar fields present in ``raw`` (see :func:`read_sidecar`).

    ``source`` names the file in error messages.
    """
    out: dict[str, Any] = {}
    extra = {k: v for k, v in raw.items() if k not in FIELDS}

    if "class_names" in raw:
        names = raw["class_names"]
        if (
            not isinstance(names, list)
            or len(names) < 2
            or not all(isinstance(n, str) and n for n in names)
            or len(set(names)) != len(names)
        ):
            raise UserError(
                f"{source}: class_names must be a list of at least 2 distinct non-empty strings "
                f"in output order (got {short_repr(names)})"
            )
        out["class_names"] = list(names)

    if "positive_class" in raw:
        pos = raw["positive_class"]
        if not isinstance(pos, str) or not pos:
            raise UserError(
                f"{source}: positive_class must be a class name string (got {short_repr(pos)})"
            )
        if "class_names" in out and pos not in out["class_names"]:
            raise UserError(
                f"{source}: positive_class {pos!r} is not one of class_names "
                f"{short_repr(out['class_names'])}; write one of them"
            )
        out["positive_class"] = pos

    if "threshold" in raw:
        thr = raw["threshold"]
        if (
            isinstance(thr, bool)
            or not isinstance(thr, (int, float))
            or not math.isfinite(thr)
            or not 0.0 < thr < 1.0
        ):
            raise UserError(
                f"{source}: threshold must be a number strictly between 0 and 1 "
                f"(got {short_repr(thr)})"
            )
        out["threshold"] = float(thr)

    if "preprocessing" in raw:
        pre = raw["preprocessing"]
        if isinstance(pre, dict):
            out["preprocessing"] = parse_normalisation(pre, source=source)
        elif not isinstance(pre, str) or pre not in PREPROCESSING:
            raise UserError(
                f"{source}: preprocessing {short_repr(pre)} is unknown; "
                f"use one of {', '.join(PREPROCESSING)} or an object of scale, mean, std"
            )
        else:
            out["preprocessing"] = pre

    if "input_size" in raw:
        out["input_size"] = parse_input_size(raw["input_size"], source=source)

    if "output" in extra and extra["output"] not in OUTPUT_MODES:
        raise UserError(
            f"{source}: output {short_repr(extra['output'])} is unknown; "
            f"use one of {', '.join(OUTPUT_MODES)} (or leave it out to detect it)"
        )
    if "output_key" in extra and not isinstance(extra["output_key"], str):
        raise UserError(
            f"{source}: output_key must be the name of one model output "
            f"(got {short_repr(extra['output_key'])})"
        )
    if "layout" in extra and extra["layout"] not in LAYOUTS:
        raise UserError(
            f"{source}: layout {short_repr(extra['layout'])} is unknown; use one of "
            f"{', '.join(LAYOUTS)} (where the model's input has its 3 colour channels)"
        )
    out["extra"] = extra
    return out


def parse_normalisation(value: dict, *, source: str) -> dict:
    """Validate an explicit preprocessing object ``{"scale", "mean", "std"}``.

    Parameters
    ----------
    value : dict
        The sidecar's ``preprocessing`` object; any of its keys may be left out (scale 1, mean 0,
        std 1). ``mean`` and ``std`` are one number or one per channel (R, G, B).
    source : str
        The file, for messages.

    Returns
    -------
    dict
        ``{"scale": float, "mean": [r, g, b], "std": [r, g, b]}`` (floats), meaning
        ``(x * scale - mean) / std`` on pixels x in 0..255.

    Raises
    ------
    UserError
        One line naming the file and the key: an unknown key, an empty object, or a value that is
        not a finite number (scale and std also positive).
    """
    unknown = sorted(set(value) - set(NORMALISATION_KEYS))
    if unknown or not value:
        what = f"unknown key {unknown[0]!r}" if unknown else "an empty object"
        raise UserError(
            f"{source}: preprocessing has {what}; an explicit preprocessing is an object of "
            f"{', '.join(NORMALISATION_KEYS)} meaning (x * scale - mean) / std on pixels 0..255"
        )

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    scale = value.get("scale", 1.0)
    if not number(scale) or scale <= 0:
        raise UserError(
            f"{source}: preprocessing.scale must be a positive number, e.g. 0.00392156862745098 "
            f"for 1/255 (got {short_repr(scale)})"
        )
    out: dict[str, Any] = {"scale": float(scale)}
    for key, default, positive in (("mean", 0.0, False), ("std", 1.0, True)):
        v = value.get(key, default)
        values = [v] * 3 if number(v) else v
        if (not isinstance(values, list) or len(values) != 3
                or not all(number(c) and (c > 0 or not positive) for c in values)):
            kind = "positive numbers" if positive else "numbers"
            raise UserError(
                f"{source}: preprocessing.{key} must be one number or 3 {kind} (R, G, B) "
                f"(got {short_repr(v)})"
            )
        out[key] = [float(c) for c in values]
    return out


def parse_input_size(value: Any, *, source: str) -> tuple[int, int]:
    """``[width, height]`` (or one int for a square) -> ``(width, height)``."""

    def ok(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 16384

    if ok(value):
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(ok(v) for v in value):
        return (int(value[0]), int(value[1]))
    raise UserError(
        f"{source}: input_size must be [width, height] in pixels (got {short_repr(value)})"
    )


def resolve_spec(
    fields: dict,
    *,
    sidecar: Path | None,
    looked_for: Sequence[Path],
    model_name: str,
    n_outputs: int | None,
    model_input_size: tuple[int, int] | None,
    dataset_labels: Sequence[str] | None,
    positive_class: str | None,
) -> ModelSpec:
    """Complete the sidecar's fields into a :class:`ModelSpec`, inferring what is missing.

    Parameters
    ----------
    fields : dict
        Output of :func:`read_sidecar` (``{"extra": {}}`` when there is no sidecar).
    sidecar : Path or None
        The sidecar read, for messages and ``extra["sidecar"]``.
    looked_for : sequence of Path
        Where a sidecar was looked for (for the message when none was found).
    model_name : str
        The model as the user gave it, for messages.
    n_outputs : int or None
        Width of the model's output, when known (None: unknown, e.g. a callable).
    model_input_size : (int, int) or None
        ``(width, height)`` read from the model, when known.
    dataset_labels : sequence of str or None
        Labels of the dataset to be audited (per image or distinct; empty labels are ignored).
        When the sidecar has no class_names and this is None, a provisional spec is returned:
        ``class_names == []`` and ``extra["needs_dataset_labels"] is True``; load the dataset
        (any labels) and resolve again with its labels.
    positive_class : str or None
        ``--positive-class``; overrides the sidecar.

    Raises
    ------
    UserError
        Naming the sidecar field to write when something cannot be inferred, or the option when
        ``positive_class`` is not a class name.
    """
    target = sidecar if sidecar is not None else (looked_for[0] if looked_for else None)
    where = f"{target}" if target is not None else "a sidecar passed with --model-spec"

    def missing(field_name: str, what: str) -> UserError:
        found = "" if sidecar is not None else " (no sidecar found)"
        return UserError(
            f"{model_name}: cannot infer {field_name}{found}: {what}; "
            f"write \"{field_name}\" in {where}"
        )

    inferred: list[str] = []
    extra = dict(fields.get("extra", {}))

    # input size
    if "input_size" in fields:
        input_size = fields["input_size"]
        if model_input_size is not None and tuple(model_input_size) != tuple(input_size):
            raise UserError(
                f"{where}: input_size {list(input_size)} does not match the model's input "
                f"{list(model_input_size)} (width, height); fix input_size"
            )
    elif model_input_size is not None:
        input_size = tuple(int(v) for v in model_input_size)
        inferred.append("input_size")
    else:
        raise missing("input_size", "the model does not fix its input size; give [width, height]")

    # class names
    labels = sorted({str(v) for v in dataset_labels if str(v)}) if dataset_labels is not None else []
    if "class_names" in fields:
        class_names = fields["class_names"]
    elif dataset_labels is None:
        # Provisional spec: the caller loads the dataset (its labels are not known yet) and opens
        # the model again with dataset_labels. Class names stay empty until then.
        extra["inferred"] = sorted(inferred)
        extra["sidecar"] = str(sidecar) if sidecar is not None else None
        extra["needs_dataset_labels"] = True
        return ModelSpec(
            class_names=[],
            positive_class=positive_class or fields.get("positive_class", ""),
            threshold=float(fields.get("threshold", DEFAULT_THRESHOLD)),
            preprocessing=fields.get("preprocessing", DEFAULT_PREPROCESSING),
            input_size=(int(input_size[0]), int(input_size[1])),
            extra=extra,
        )
    else:
        if not labels:
            raise missing(
                "class_names",
                "no dataset labels to take them from; give the class names in output order",
            )
        wanted = 2 if n_outputs == 1 else n_outputs
        if len(labels) < 2 or (wanted is not None and len(labels) != wanted):
            has = "an unknown number of" if n_outputs is None else f"{n_outputs}"
            raise missing(
                "class_names",
                f"the model has {has} output(s) but the dataset has {len(labels)} label(s) "
                f"{short_repr(labels)}; give the class names in output order",
            )
        class_names = labels
        inferred.append("class_names")
    if n_outputs is not None:
        check_outputs(class_names, n_outputs, source=where)

    # positive class
    if positive_class is not None:
        if positive_class not in class_names:
            raise UserError(
                f"--positive-class: {positive_class!r} is not one of the model's class names "
                f"{short_repr(class_names)}; give one of them"
            )
        pos = positive_class
    elif "positive_class" in fields:
        pos = fields["positive_class"]
        if pos not in class_names:
            raise UserError(
                f"{where}: positive_class {pos!r} is not one of class_names "
                f"{short_repr(class_names)}; write one of them"
            )
    elif len(class_names) == 2:
        pos = class_names[1]
        inferred.append("positive_class")
    else:
        pos = None  # a K-class model audited as K classes (the top class is the prediction)

    threshold = fields.get("threshold")
    if threshold is None:
        threshold = DEFAULT_THRESHOLD
        inferred.append("threshold")
    preprocessing = fields.get("preprocessing")
    if preprocessing is None:
        preprocessing = DEFAULT_PREPROCESSING
        inferred.append("preprocessing")

    extra["inferred"] = sorted(inferred)
    extra["sidecar"] = str(sidecar) if sidecar is not None else None
    return ModelSpec(
        class_names=list(class_names),
        positive_class=pos,
        threshold=float(threshold),
        preprocessing=preprocessing,
        input_size=(int(input_size[0]), int(input_size[1])),
        extra=extra,
    )


def check_outputs(class_names: Sequence[str], n_outputs: int, *, source: str) -> None:
    """Raise ``UserError`` unless ``n_outputs`` fits ``class_names`` (1 sigmoid <-> 2 names)."""
    k = len(class_names)
    if n_outputs == 1 and k == 2 or n_outputs == k:
        return
    need = "2 names (one sigmoid output)" if n_outputs == 1 else f"{n_outputs} names"
    raise UserError(
        f"{source}: class_names has {k} names {short_repr(list(class_names))} but the model has "
        f"{n_outputs} output(s); write {need} in output order"
    )
