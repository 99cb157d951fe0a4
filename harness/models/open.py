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
importing TensorFlow (:mod:`harness.models.locate`); the model itself is loaded on first use (``import tensorflow`` takes seconds),
or at once when the sidecar lacks something that only the model can tell (input size, number of
outputs). The forward pass is a ``tf.function`` over a fixed batch size (the last batch is padded,
so the function is traced once), not ``model.predict``.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from harness.cache import ArrayCache
from harness.errors import NotAvailable, UserError
from harness.models.locate import (  # noqa: F401  (file_sha256, model_hash: re-exported)
    Source,
    file_sha256,
    locate,
    locate_object,
    model_hash,
    source_hash,
)
from harness.models.outputs import (
    OUTPUT_KINDS,
    cache_tag,
    detect_output_kind,
    kind_from_activation,
    kind_from_mode,
    looks_like_probabilities,
    class_probabilities,
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


@dataclass(frozen=True, eq=False)
class ModelWithSpec:
    """A model plus sidecar fields given with it (``class_names``, ``positive_class``,
    ``threshold``, ``preprocessing``, ``input_size``): they complete a missing sidecar and
    override a present one. ``model`` is anything :func:`open_model` takes."""

    model: Any
    fields: Mapping[str, Any] = field(default_factory=dict)


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
    kclass : bool
        True when a K-class model (K > 2) has no positive class: it is audited as K classes, the
        top class being the prediction.
    supports_gradients : bool
        True for Keras formats (``.keras``, ``.h5``, a ``keras.Model``), whose graph Grad-CAM
        can differentiate.
    """

    def __init__(self, *, spec: ModelSpec, source: Source, hash: str, trust: bool,
                 backend: Any = None, facts: dict | None = None):
        self.spec = spec
        self.path = source.name
        self.format = source.format
        self.hash = hash
        # provisional spec ([] names): neither
        self.binary_view = len(spec.class_names) > 2 and bool(spec.positive_class)
        self.kclass = len(spec.class_names) > 2 and not spec.positive_class
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

    @property
    def output_kind_from_data(self) -> bool:
        """True when the output kind was read from the outputs of a first batch (no sidecar
        ``output``, no final activation to tell): later batches are checked against it."""
        return self._kind_from_data

    def adopt_output_kind(self, kind: str, *, from_data: bool = False) -> None:
        """Record an output kind decided earlier for this model (e.g. stored in the cache; or,
        ``from_data``, read from a first batch by another copy of the model, so that later
        batches are checked here as they are there)."""
        if kind not in OUTPUT_KINDS:
            raise ValueError(f"unknown output kind {kind!r}")
        if self._kind is None:
            self._kind = kind
            self._kind_from_data = from_data

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

    def predict_proba(self, images: np.ndarray, *, batch_size: int = 32,
                      slots: np.ndarray | None = None) -> np.ndarray:
        """Probability of the positive class for each image.

        Parameters
        ----------
        images : np.ndarray
            uint8 (N, H, W, 3) RGB at ``spec.input_size``.
        batch_size : int
            Forward batch size; the last batch is padded to it so the compiled function keeps one
            input shape.
        slots : (N,) ints in ``[0, batch_size)``, optional
            Where in its forward batch each image goes (the rest of the batch is zeros), for a
            model whose batches are padded (Keras, TFLite, ONNX). A forward batch of a fixed shape
            gives an image the same output whatever its companions, but not whatever its place:
            an audit puts every image at the place its dataset position gives it, so that its
            probability does not depend on how the images were cut into chunks, on a resumed
            run's cache hits, or on the engine. Ignored for callables (not padded).

        Returns
        -------
        np.ndarray
            float64 (N,).
        """
        if self.kclass:
            raise ValueError(f"{self.path}: a K-class model has no positive class; use "
                             "predict_class_probabilities")
        return self._predict(images, batch_size=batch_size, every_class=False, slots=slots)

    def predict_class_probabilities(self, images: np.ndarray, *, batch_size: int = 32,
                                    slots: np.ndarray | None = None) -> np.ndarray:
        """The probability of every class for each image, in ``spec.class_names`` order.

        Returns
        -------
        np.ndarray
            float64 (N, K); for one sigmoid output, ``[1 - p, p]``. ``slots``: as
            :meth:`predict_proba`.
        """
        return self._predict(images, batch_size=batch_size, every_class=True, slots=slots)

    def _predict(self, images: np.ndarray, *, batch_size: int, every_class: bool,
                 slots: np.ndarray | None = None) -> np.ndarray:
        images = self._check_images(images)
        if not self.spec.class_names:
            raise ValueError(
                "class names are unresolved (extra['needs_dataset_labels']); open the model again "
                "with dataset_labels before predicting"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        n = len(images)
        shape = (n, len(self.spec.class_names)) if every_class else (n,)
        if n == 0:
            return np.empty(shape, dtype=np.float64)
        backend = self.load()._backend
        out = np.empty(shape, dtype=np.float64)
        placed = slots is not None and backend.pads
        for idx, where in _forward_batches(n, batch_size, slots if placed else None):
            chunk = images[idx]
            m = len(chunk)
            if backend.wants_uint8 and self.spec.preprocessing == "none":
                x = chunk
            else:
                x = self.preprocess(chunk)
            if backend.pads and (m < batch_size or placed):
                padded = np.zeros((batch_size, *x.shape[1:]), dtype=x.dtype)
                padded[where] = x
                x = padded
            raw = np.asarray(backend.forward(x), dtype=np.float64)[where]
            probs = self._interpret(raw)
            out[idx] = (class_probabilities(probs) if every_class else
                                      positive_probability(probs, self.spec.class_names,
                                                           self.spec.positive_class))
        return out

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
        """Raw outputs (N, K) -> probabilities (N, K) (one column for a sigmoid unit)."""
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
    src = locate(str(model)) if isinstance(model, (str, Path)) else locate_object(model)
    digest = source_hash(src)
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


def _forward_batches(n: int, batch_size: int, slots: np.ndarray | None):
    """``(images, places)`` of each forward batch: consecutive images; with ``slots``, a batch
    ends where a slot does not rise (each image then sits at its own slot)."""
    if slots is None:
        for start in range(0, n, batch_size):
            idx = np.arange(start, min(start + batch_size, n))
            yield idx, np.arange(idx.size)
        return
    slots = np.asarray(slots, dtype=np.int64)
    if slots.shape != (n,) or (n and (slots.min() < 0 or slots.max() >= batch_size)):
        raise ValueError(f"slots must be {n} ints in [0, {batch_size}), got {slots!r}")
    start = 0
    for i in range(1, n + 1):
        if i == n or slots[i] <= slots[i - 1]:
            yield np.arange(start, i), slots[start:i]
            start = i
