"""Model adapters: open any supported classifier and get positive-class probabilities.

Formats (``LoadedModel.format``):

- ``"keras"``: a Keras 3 ``.keras`` file, loaded with ``safe_mode=True`` unless ``trust`` (safe
  mode refuses Lambda layers and other embedded Python code);
- ``"h5"``: a legacy HDF5 file, including Keras 2 files whose ``DepthwiseConv2D`` layers carry the
  ``groups`` argument Keras 3 no longer accepts (it is dropped on load);
- ``"savedmodel"``: a SavedModel folder (e.g. ``model.export(path)``), called through its serving
  signature;
- ``"tflite"``: a TensorFlow Lite flatbuffer, float or quantized (uint8/int8 input and output are
  quantized/dequantized with the tensor's scale and zero point);
- ``"onnx"``: an ONNX graph (what ``torch.onnx.export`` writes), run by onnxruntime on the CPU;
  layout (NCHW/NHWC), input size, batch size and input type are read from the graph
  (:mod:`harness.models.onnx_backend`);
- ``"callable"``: ``package.module:function`` or ``path/to/file.py:function``, a Python function
  mapping a uint8 batch (N, H, W, 3) to probabilities, (N,) or (N, K) (float32 preprocessed
  pixels instead when the sidecar names a preprocessing other than ``"none"``); also any Python
  callable given to the Python API (named ``module:qualname``);
- ``"keras-object"``: a loaded ``keras.Model`` given to the Python API (named by its
  ``model.name``).

A model given as an object has no sidecar beside it: its spec comes from ``spec_path`` or from
spec fields given with it (:class:`ModelWithSpec`).

:func:`open_model` reads the sidecar (:mod:`harness.models.sidecar`) and hashes the model's bytes without
importing TensorFlow; the model itself is loaded on first use (``import tensorflow`` takes seconds),
or at once when the sidecar lacks something that only the model can tell (input size, number of
outputs). The forward pass is a ``tf.function`` over a fixed batch size (the last batch is padded,
so the function is traced once), not ``model.predict``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from harness.cache import ArrayCache
from harness.errors import NotAvailable, UserError, UserTypeError
from harness.models.outputs import (
    OUTPUT_KINDS,
    cache_tag,
    detect_output_kind,
    kind_from_activation,
    kind_from_mode,
    looks_like_probabilities,
    positive_probability,
    preprocess_images,
    to_probabilities,
)
from harness.models.formats import load_backend
from harness.models.sidecar import (
    ModelSpec,
    check_outputs,
    read_sidecar,
    resolve_spec,
    sidecar_candidates,
    validate_fields,
)

FORMATS = ("keras", "h5", "savedmodel", "tflite", "onnx", "callable", "keras-object")
#: Formats whose Keras graph Grad-CAM can differentiate.
GRADIENT_FORMATS = ("keras", "h5", "keras-object")
_SUFFIX_FORMATS = {".keras": "keras", ".h5": "h5", ".hdf5": "h5", ".tflite": "tflite",
                   ".onnx": "onnx"}
_GIVE = "give a .keras, .h5, .tflite or .onnx file, a SavedModel folder, or module:function"
#: Protobuf tags that may follow an ONNX ModelProto's leading ir_version (fields 2 to 8).
_ONNX_NEXT_TAGS = frozenset(b"\x12\x1a\x22\x28\x32\x3a\x42")
_CALLABLE = re.compile(r"^(?P<target>.+):(?P<function>[A-Za-z_][A-Za-z0-9_]*)$")
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_CHUNK = 1 << 20


# ---------------------------------------------------------------------------------------------
# locating and hashing (no TensorFlow)
# ---------------------------------------------------------------------------------------------


class _Source:
    """Where a model is: its format, its file or folder, and for callables the function."""

    def __init__(self, name: str, fmt: str, path: Path | None, function: str | None = None,
                 module: str | None = None, obj: Any = None):
        self.name = name          # as the user gave it (an object: its name)
        self.format = fmt
        self.path = path          # model file/folder; for callables the module's source file
        self.function = function
        self.module = module      # importable module name (callable given as pkg.mod:fn)
        self.obj = obj            # a keras.Model or a function given in memory


@dataclass(frozen=True, eq=False)
class ModelWithSpec:
    """A model plus sidecar fields given with it (``class_names``, ``positive_class``,
    ``threshold``, ``preprocessing``, ``input_size``): they complete a missing sidecar and
    override a present one. ``model`` is anything :func:`open_model` takes."""

    model: Any
    fields: Mapping[str, Any] = field(default_factory=dict)


def _is_keras_model(obj: Any) -> bool:
    keras = sys.modules.get("keras")  # an object can only be a keras.Model once keras is imported
    return keras is not None and isinstance(obj, keras.Model)


def _locate_object(obj: Any) -> _Source:
    """A ``keras.Model`` or a Python callable given in memory."""
    if _is_keras_model(obj):
        return _Source(str(getattr(obj, "name", "") or "keras_model"), "keras-object", None,
                       obj=obj)
    if callable(obj):
        target = getattr(obj, "__func__", obj)
        module = getattr(target, "__module__", None) or type(obj).__module__
        qualname = getattr(target, "__qualname__", None) or type(obj).__qualname__
        return _Source(f"{module}:{qualname}", "callable", None, function=qualname,
                       module=module, obj=obj)
    raise UserTypeError(f"model: expected a path, module:function, a keras.Model or a callable, got "
                    f"{type(obj).__name__}")


def _sniff_format(path: Path) -> str | None:
    """The format a file's first bytes show (for files without a known suffix), or None.

    An ONNX file is a protobuf ModelProto, which starts with its ir_version (field 1, a small
    varint) followed by one of the next fields (producer name, graph, opset imports, ...).
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return None
    if head.startswith(b"PK\x03\x04"):
        return "keras"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "h5"
    if head[4:8] == b"TFL3":
        return "tflite"
    if len(head) >= 3 and head[0] == 0x08 and 1 <= head[1] <= 0x7F and head[2] in _ONNX_NEXT_TAGS:
        return "onnx"
    return None


def _locate(model: str) -> _Source:
    path = Path(model)
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return _Source(model, "savedmodel", path)
        raise UserError(
            f"{model}: a folder but not a SavedModel (no saved_model.pb inside); {_GIVE}"
        )
    if path.is_file():
        fmt = _SUFFIX_FORMATS.get(path.suffix.lower()) or _sniff_format(path)
        if fmt is None:
            raise UserError(f"{model}: unknown model format (suffix {path.suffix!r}); {_GIVE}")
        return _Source(model, fmt, path)
    match = _CALLABLE.match(model)
    if match:
        target, function = match["target"], match["function"]
        if target.endswith(".py") or "/" in target or "\\" in target:
            file = Path(target)
            if not file.is_file():
                raise UserError(f"{model}: Python file {target!r} not found; give an existing file")
            return _Source(model, "callable", file, function=function)
        if _MODULE_NAME.match(target):
            try:
                spec = importlib.util.find_spec(target)
            except (ImportError, ValueError) as exc:
                raise UserError(f"{model}: cannot find module {target!r} ({exc})") from None
            if spec is None:
                raise UserError(
                    f"{model}: no module named {target!r}; make it importable or give "
                    "path/to/file.py:function"
                )
            origin = Path(spec.origin) if spec.origin and spec.has_location else None
            return _Source(model, "callable", origin, function=function, module=target)
    raise UserError(f"{model}: model not found; {_GIVE}")


def file_sha256(path: Path, digest: Any = None) -> Any:
    """Feed a file's bytes into ``digest`` (a new sha256 when None) and return it."""
    h = digest if digest is not None else hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h


def model_hash(model: str) -> str:
    """Content hash of a model, without importing TensorFlow.

    A file: sha256 of its bytes. A folder: sha256 over every file in sorted relative-path order
    (posix name, size, bytes). A callable: sha256 of the module's source file and the function
    name (the code the function imports is not covered).
    """
    return _hash_source(_locate(model))


def _code_digest(code: Any, h: Any) -> None:
    """Feed a code object's bytecode, names and constants (nested code included) into ``h``."""
    h.update(code.co_code + b"\0" + "\0".join(code.co_names).encode())
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            _code_digest(const, h)
        else:
            h.update(b"\0" + repr(const).encode())


def _object_hash(src: _Source) -> str:
    """A keras.Model: sha256 of its architecture JSON and every weight (shape, dtype, bytes).
    A callable: sha256 of its module, qualified name and code (bytecode, names, constants)."""
    obj = src.obj
    if src.format == "keras-object":
        h = hashlib.sha256(b"keras-object\0")
        try:
            h.update(obj.to_json().encode("utf-8"))
        except Exception:  # a subclassed model without get_config: its class stands for it
            h.update(f"{type(obj).__module__}.{type(obj).__qualname__}".encode())
        for w in obj.get_weights():
            w = np.ascontiguousarray(w)
            h.update(f"\0{w.dtype.str}{w.shape}".encode() + w.tobytes())
        return h.hexdigest()
    h = hashlib.sha256(b"callable-object\0" + src.name.encode("utf-8"))
    target = getattr(obj, "__func__", obj)
    code = getattr(target, "__code__", None) or getattr(getattr(type(obj), "__call__", None),
                                                         "__code__", None)
    if code is not None:
        _code_digest(code, h)
    return h.hexdigest()


def _hash_source(src: _Source) -> str:
    if src.obj is not None:
        return _object_hash(src)
    if src.format == "callable":
        h = hashlib.sha256(b"callable\0")
        if src.path is not None:
            file_sha256(src.path, h)
        else:
            h.update((src.module or "").encode())
        h.update(b"\0" + (src.function or "").encode())
        return h.hexdigest()
    if src.path.is_dir():
        h = hashlib.sha256(b"folder\0")
        files = sorted(
            (p.relative_to(src.path).as_posix(), p) for p in src.path.rglob("*") if p.is_file()
        )
        for rel, p in files:
            h.update(rel.encode("utf-8") + b"\0" + p.stat().st_size.to_bytes(8, "little"))
            file_sha256(p, h)
        return h.hexdigest()
    return file_sha256(src.path).hexdigest()


# ---------------------------------------------------------------------------------------------
# the loaded model
# ---------------------------------------------------------------------------------------------


class LoadedModel:
    """A classifier, its sidecar spec, and a lazily loaded forward pass.

    Attributes
    ----------
    spec : ModelSpec
    path : str
        The model as given (file, folder or ``module:function``).
    format : str
        One of :data:`FORMATS`.
    hash : str
        Content hash of the model (see :func:`model_hash`).
    binary_view : bool
        True when a K-class model (K > 2) is audited as positive-vs-rest: dataset labels other
        than ``spec.positive_class`` count as negatives.
    supports_gradients : bool
        True for Keras formats (``.keras``, ``.h5``, a ``keras.Model``), whose graph Grad-CAM
        can differentiate.
    """

    def __init__(self, *, spec: ModelSpec, source: _Source, hash: str, trust: bool,
                 backend: Any = None, facts: dict | None = None):
        self.spec = spec
        self.path = source.name
        self.format = source.format
        self.hash = hash
        self.binary_view = len(spec.class_names) > 2  # provisional spec ([] names): False
        self.supports_gradients = source.format in GRADIENT_FORMATS
        self._source = source
        self._trust = trust
        self._backend = backend
        self._kind: str | None = None
        self._kind_from_data = False
        self._n_outputs: int | None = None
        if backend is not None:
            self._adopt_backend(backend)
        elif facts is not None:
            self._apply_facts(**facts)

    def __repr__(self) -> str:
        return f"LoadedModel({self.path!r}, format={self.format!r}, hash={self.hash[:12]!r})"

    # -- what is known without loading ------------------------------------------------------

    @property
    def output_kind(self) -> str | None:
        """How raw outputs become probabilities (see :mod:`harness.models.predict`); None until the
        model has run (or the kind was read back from the prediction cache)."""
        return self._kind

    @property
    def n_outputs(self) -> int | None:
        return self._n_outputs

    @property
    def cache_tag(self) -> str:
        """Digest of the spec settings that change the positive-class probability."""
        s = self.spec
        return cache_tag({
            "preprocessing": s.preprocessing,
            "input_size": list(s.input_size),
            "class_names": list(s.class_names),
            "positive_class": s.positive_class,
            "output": s.extra.get("output"),
            "output_key": s.extra.get("output_key"),
            **({"layout": s.extra["layout"]} if "layout" in s.extra else {}),
        })

    def describe(self) -> dict:
        """Plain-Python summary for the ``model`` section of results.json."""
        return {
            "path": self.path,
            "hash": self.hash,
            "format": self.format,
            **self.spec.to_json(),
            "binary_view": self.binary_view,
            "supports_gradients": self.supports_gradients,
            "output_kind": self._kind,
        }

    def adopt_output_kind(self, kind: str) -> None:
        """Record an output kind decided earlier for this model (e.g. stored in the cache)."""
        if kind not in OUTPUT_KINDS:
            raise ValueError(f"unknown output kind {kind!r}")
        if self._kind is None:
            self._kind = kind

    # -- loading ------------------------------------------------------------------------------

    def load(self) -> "LoadedModel":
        """Load the model now (imports TensorFlow for TF formats); returns self."""
        if self._backend is None:
            self._adopt_backend(load_backend(self._source, trust=self._trust,
                                              extra=self.spec.extra))
        return self

    def _adopt_backend(self, backend: Any) -> None:
        self._backend = backend
        self._apply_facts(**_facts_of(backend))

    def _apply_facts(self, *, input_size: Any, n_outputs: int | None,
                     activation: str | None) -> None:
        """Check the model's input size and output width against the spec; read the output kind
        from the sidecar's ``output`` or the graph's final activation."""
        source = self.spec.extra.get("sidecar") or "the model sidecar"
        if input_size is not None and tuple(input_size) != self.spec.input_size:
            raise UserError(
                f"{source}: input_size {list(self.spec.input_size)} does not match the model's "
                f"input {list(input_size)} (width, height); fix input_size"
            )
        if n_outputs is not None:
            self._set_outputs(n_outputs)
        if self._kind is None and self._n_outputs is not None:
            mode = self.spec.extra.get("output")
            if mode is not None:
                self._kind = kind_from_mode(mode, self._n_outputs)
            else:
                self._kind = kind_from_activation(activation, self._n_outputs)

    def _set_outputs(self, n: int) -> None:
        source = self.spec.extra.get("sidecar") or self.path
        if not self.spec.class_names:  # provisional spec: checked when reopened with labels
            pass
        elif "class_names" in self.spec.extra.get("inferred", []):
            try:
                check_outputs(self.spec.class_names, n, source=source)
            except UserError:
                where = self.spec.extra.get("sidecar") or f"a sidecar beside {self.path}"
                raise UserError(
                    f"{self.path}: the model gives {n} output(s) per image but "
                    f"{len(self.spec.class_names)} class names were inferred from the dataset "
                    f"labels; write \"class_names\" in output order in {where}"
                ) from None
        else:
            check_outputs(self.spec.class_names, n, source=source)
        self._n_outputs = n

    def keras_model(self) -> Any:
        """The ``keras.Model`` (loaded lazily).

        Raises
        ------
        NotAvailable
            For SavedModel, TensorFlow Lite and callable models.
        """
        if not self.supports_gradients:
            raise NotAvailable(
                f"{self.path}: a {self.format} model has no Keras graph to differentiate; "
                "give a .keras or .h5 model for Grad-CAM"
            )
        return self.load()._backend.model

    # -- prediction -----------------------------------------------------------------------------

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """float32 batch after the preprocessing the spec names (``"none"``: pixels 0..255)."""
        return preprocess_images(images, self.spec.preprocessing)

    def predict_proba(self, images: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
        """Probability of the positive class for each image.

        Parameters
        ----------
        images : np.ndarray
            uint8 (N, H, W, 3) RGB at ``spec.input_size``.
        batch_size : int
            Forward batch size; the last batch is padded to it so the compiled function keeps one
            input shape.

        Returns
        -------
        np.ndarray
            float64 (N,).
        """
        probs = self.class_probabilities(images, batch_size=batch_size)
        if len(probs) == 0:
            return np.empty(0, dtype=np.float64)
        return positive_probability(probs, self.spec.class_names, self.spec.positive_class)

    def class_probabilities(self, images: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
        """Every output's probability for each image: float64 (N, K), K the model's outputs (one
        sigmoid unit: K = 1, the probability of ``spec.class_names[1]``). Same forward pass and
        checks as :meth:`predict_proba` (which takes the positive class's column of this)."""
        images = self._check_images(images)
        if not self.spec.class_names:
            raise ValueError(
                "class names are unresolved (extra['needs_dataset_labels']); open the model again "
                "with dataset_labels before predicting"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        n = len(images)
        if n == 0:
            return np.empty((0, self._n_outputs or 1), dtype=np.float64)
        backend = self.load()._backend
        parts = []
        for start in range(0, n, batch_size):
            chunk = images[start : start + batch_size]
            m = len(chunk)
            if backend.wants_uint8 and self.spec.preprocessing == "none":
                x = chunk
            else:
                x = self.preprocess(chunk)
            if backend.pads and m < batch_size:
                padded = np.zeros((batch_size, *x.shape[1:]), dtype=x.dtype)
                padded[:m] = x
                x = padded
            raw = np.asarray(backend.forward(x), dtype=np.float64)[:m]
            parts.append(self._interpret(raw))
        return np.concatenate(parts)

    def _check_images(self, images: np.ndarray) -> np.ndarray:
        if not isinstance(images, np.ndarray):
            raise TypeError(f"images must be a numpy array, got {type(images).__name__}")
        if images.dtype != np.uint8:
            raise TypeError(f"images must be uint8, got {images.dtype}")
        w, h = self.spec.input_size
        if images.ndim != 4 or images.shape[1:] != (h, w, 3):
            raise ValueError(
                f"images must be (N, {h}, {w}, 3) for input_size {(w, h)}, got {images.shape}"
            )
        return images

    def _interpret(self, raw: np.ndarray) -> np.ndarray:
        if raw.ndim == 1:
            raw = raw[:, None]
        if raw.ndim != 2:
            raise UserError(
                f"{self.path}: the model returned shape {raw.shape}; expected (N,) or (N, classes)"
            )
        if self._n_outputs is None:
            self._set_outputs(raw.shape[1])
        elif raw.shape[1] != self._n_outputs:
            raise UserError(
                f"{self.path}: the model returned {raw.shape[1]} outputs per image after "
                f"{self._n_outputs} before"
            )
        bad = ~np.isfinite(raw).all(axis=1)
        if bad.any():
            raise UserError(
                f"{self.path}: the model returned NaN or infinite outputs for {int(bad.sum())} of "
                f"{len(raw)} images; check the model and the preprocessing in its sidecar"
            )
        if self._kind is None:
            mode = self.spec.extra.get("output")
            if mode is not None:
                self._kind = kind_from_mode(mode, self._n_outputs)
            else:
                self._kind = detect_output_kind(raw)
                self._kind_from_data = True
        elif self._kind_from_data and self._kind in ("sigmoid", "softmax"):
            if not looks_like_probabilities(raw):
                where = self.spec.extra.get("sidecar") or "the model sidecar"
                raise UserError(
                    f"{self.path}: outputs looked like probabilities on the first batch but not on "
                    f"a later one; write \"output\": \"logits\" (or \"probabilities\") in {where}"
                )
        return to_probabilities(raw, self._kind)


def open_model(
    model: Any,
    *,
    spec_path: str | None = None,
    positive_class: str | None = None,
    trust: bool = False,
    dataset_labels: Sequence[str] | None = None,
    cache: ArrayCache | None = None,
) -> LoadedModel:
    """Open a classifier and its sidecar.

    Parameters
    ----------
    model : str, Path, keras.Model, callable or ModelWithSpec
        A ``.keras``, ``.h5`` or ``.tflite`` file, a SavedModel folder, or ``module:function`` /
        ``path/to/file.py:function``; or, from the Python API, a loaded ``keras.Model`` (hashed
        from its architecture JSON and weights, so the cache works; format ``"keras-object"``)
        or a Python callable mapping a uint8 batch (N, H, W, 3) to probabilities (hashed from its
        module, qualified name and code). A callable's hash does not cover what it closes over
        or the globals and objects it calls: after changing those, audit with ``cache=None``.
        ``ModelWithSpec`` adds sidecar fields that override the sidecar's.
    spec_path : str, optional
        The sidecar (``--model-spec``); by default ``M.json`` beside the model.
    positive_class : str, optional
        ``--positive-class``: overrides the sidecar's; with a K-class model (K > 2) this is a
        positive-vs-rest view (``binary_view``).
    trust : bool
        ``--trust-model``: load Keras files with safe mode off (allows Lambda layers).
    dataset_labels : sequence of str, optional
        The dataset's labels, used to infer missing class names. Without them, a sidecar that
        lacks class_names gives a provisional spec (``extra["needs_dataset_labels"]``).
    cache : ArrayCache, optional
        Where the facts read from the model itself (input size, output width, final activation)
        are kept by model hash, so that reopening a model without a complete sidecar does not
        load it again (nor import TensorFlow).

    Returns
    -------
    LoadedModel
        Not yet loaded unless the input size or (with dataset_labels) the output width had to be
        read from the model and was not in the cache; then TensorFlow was imported to load it.

    Raises
    ------
    UserError
        A missing model or sidecar, an unknown format, a malformed sidecar field, or a field that
        is missing and cannot be inferred (the message names the field to write).
    """
    given: Mapping[str, Any] = {}
    if isinstance(model, ModelWithSpec):
        model, given = model.model, model.fields
    src = _locate(str(model)) if isinstance(model, (str, Path)) else _locate_object(model)
    digest = _hash_source(src)
    if spec_path is not None:
        sidecar: Path | None = Path(spec_path)
        looked = [sidecar]
    else:
        if src.path is not None:
            looked = sidecar_candidates(src.path)
        else:
            looked = []
        sidecar = next((p for p in looked if p.is_file()), None)
    fields = read_sidecar(sidecar) if sidecar is not None else {"extra": {}}
    if given:
        checked = validate_fields(dict(given), source="the model's spec arguments")
        fields = {**fields, **{k: v for k, v in checked.items() if k != "extra"}}

    backend = None
    facts = None
    need_size = "input_size" not in fields
    need_outputs = "class_names" not in fields and dataset_labels is not None
    if src.obj is not None:  # held in memory: its facts cost nothing to read
        backend = load_backend(src, trust=trust, extra=fields["extra"])
        facts = _facts_of(backend)
    elif src.format != "callable" and (need_size or need_outputs):
        facts = _read_facts(cache, digest)
        if facts is None:
            backend = load_backend(src, trust=trust, extra=fields["extra"])
            facts = _facts_of(backend)
            _store_facts(cache, digest, facts)
    spec = resolve_spec(
        fields,
        sidecar=sidecar,
        looked_for=looked,
        model_name=model,
        n_outputs=None if facts is None else facts["n_outputs"],
        model_input_size=None if facts is None else facts["input_size"],
        dataset_labels=dataset_labels,
        positive_class=positive_class,
    )
    return LoadedModel(spec=spec, source=src, hash=digest, trust=trust, backend=backend,
                       facts=facts)


_FACTS_KEY = "facts-v1"


def _facts_of(backend: Any) -> dict:
    size = backend.input_size
    return {
        "input_size": None if size is None else (int(size[0]), int(size[1])),
        "n_outputs": None if backend.n_outputs is None else int(backend.n_outputs),
        "activation": backend.activation,
    }


def _read_facts(cache: ArrayCache | None, digest: str) -> dict | None:
    if cache is None:
        return None
    value = cache.get_many(f"{digest}/#model_facts", [_FACTS_KEY]).get(_FACTS_KEY)
    try:
        raw = json.loads(str(value.reshape(())))
        size, n, act = raw["input_size"], raw["n_outputs"], raw["activation"]
        return {
            "input_size": None if size is None else (int(size[0]), int(size[1])),
            "n_outputs": None if n is None else int(n),
            "activation": None if act is None else str(act),
        }
    except (AttributeError, TypeError, ValueError, KeyError, IndexError):
        return None  # absent or malformed: read the model


def _store_facts(cache: ArrayCache | None, digest: str, facts: dict) -> None:
    if cache is not None:
        cache.put_many(f"{digest}/#model_facts", {_FACTS_KEY: np.array(json.dumps(facts))})


__all__ = ["FORMATS", "LoadedModel", "ModelSpec", "ModelWithSpec", "model_hash", "open_model"]
