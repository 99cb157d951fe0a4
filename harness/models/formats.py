"""Format backends: load one model file and run its forward pass on a preprocessed batch.

One small class per format (``.keras``/``.h5``, SavedModel, ``.tflite``, Python callable; ONNX in
:mod:`harness.models.onnx_backend`), each holding the loaded model and its compiled forward
function; a ``keras.Model`` or a function given to the Python API is held as it is. Constructing
one imports TensorFlow (onnxruntime for ONNX, or the user's module); :mod:`harness.models.open`
constructs them only when a prediction or a fact about the model (input size, output width) is
needed.

A backend exposes ``input_size`` ((width, height) or None), ``n_outputs`` (or None),
``activation`` (the final layer's activation name for Keras graphs, else None), ``pads`` (whether
the last batch is padded to the fixed batch size), ``wants_uint8`` (callables get the uint8 batch
when the spec's preprocessing is "none") and ``forward(x) -> np.ndarray`` (N, K).
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import UserError
from harness.models.onnx_backend import OnnxBackend


@functools.cache
def _legacy_custom_objects() -> dict:
    """Keras-3 stand-ins for layers whose Keras-2 configs Keras 3 rejects."""
    import keras

    class DepthwiseConv2D(keras.layers.DepthwiseConv2D):
        """DepthwiseConv2D that ignores the Keras-2 ``groups`` argument (always 1 there)."""

        def __init__(self, *args, groups=None, **kwargs):
            super().__init__(*args, **kwargs)

    return {"DepthwiseConv2D": DepthwiseConv2D}


def _first_line(exc: BaseException, limit: int = 160) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _final_activation(model: Any) -> str | None:
    """Name of the activation of the layer that produces the model's output, when knowable."""
    import keras

    op = None
    for _ in range(8):  # nested sub-models
        try:
            op = model.outputs[0]._keras_history.operation
        except (AttributeError, IndexError, TypeError):
            layers = getattr(model, "layers", None)
            op = layers[-1] if layers else None
        if isinstance(op, keras.Model):
            model = op
            continue
        break
    if op is None:
        return None
    if type(op).__name__ == "Softmax":
        return "softmax"
    act = getattr(op, "activation", None)
    name = getattr(act, "__name__", None)
    return name if name in ("sigmoid", "softmax", "linear") else None


def _shape_info(path: str, in_shape: Any, out_shape: Any) -> tuple[tuple[int, int] | None, int | None]:
    """(width, height) and number of outputs from (None, H, W, C) / (None, K) shapes."""
    input_size = None
    if in_shape is not None:
        dims = [None if d is None or int(d) < 0 else int(d) for d in in_shape]
        if len(dims) != 4:
            raise UserError(
                f"{path}: the model's input has shape {dims}; DermaTrace feeds images "
                "(batch, height, width, 3)"
            )
        if dims[3] not in (None, 3):
            raise UserError(
                f"{path}: the model expects {dims[3]} channels per pixel; DermaTrace feeds RGB (3)"
            )
        if dims[1] and dims[2]:
            input_size = (dims[2], dims[1])
    n_outputs = None
    if out_shape is not None:
        dims = [None if d is None or int(d) < 0 else int(d) for d in out_shape]
        if len(dims) == 1:
            n_outputs = 1
        elif len(dims) == 2:
            n_outputs = dims[1]
        else:
            raise UserError(
                f"{path}: the model's output has shape {dims}; DermaTrace reads (batch,) or "
                "(batch, classes)"
            )
    return input_size, n_outputs


def check_keras_archive(path: Path) -> None:
    """Raise ``UserError`` unless ``path`` (a ``.keras`` file) is a readable zip archive.

    Keras itself reports a file that is not one (text renamed ``.keras``, a truncated download)
    as "File not found" although the file exists.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            bad = archive.testzip() if "config.json" in names else None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise UserError(
            f"{path}: not a valid .keras archive ({_first_line(exc)}; truncated, or not a Keras "
            "model); save the model again with model.save(\"model.keras\")"
        ) from None
    if "config.json" not in names or bad is not None:
        what = f"damaged member {bad!r}" if bad is not None else "no config.json inside"
        raise UserError(
            f"{path}: not a valid .keras archive ({what}); save the model again with "
            "model.save(\"model.keras\")"
        )


class _KerasBackend:
    pads = True
    wants_uint8 = False

    def __init__(self, path: Path | str, *, trust: bool, model: Any = None):
        if model is None:
            model = self._load(path, trust=trust)
        inputs = getattr(model, "inputs", None) or []
        outputs = getattr(model, "outputs", None) or []
        if len(inputs) > 1 or len(outputs) > 1:
            raise UserError(
                f"{path}: the model has {len(inputs)} inputs and {len(outputs)} outputs; "
                "DermaTrace audits models with one image input and one output"
            )
        self.model = model
        self.input_size, self.n_outputs = _shape_info(
            str(path),
            tuple(inputs[0].shape) if inputs else None,
            tuple(outputs[0].shape) if outputs else None,
        )
        self.activation = _final_activation(model)
        self._fn = None

    @staticmethod
    def _load(path: Path | str, *, trust: bool) -> Any:
        import keras

        if Path(path).suffix.lower() == ".keras":
            check_keras_archive(Path(path))
        try:
            return keras.saving.load_model(
                str(path), compile=False, safe_mode=not trust,
                custom_objects=_legacy_custom_objects(),
            )
        except Exception as exc:  # a user's file: any failure to load is bad input
            message = str(exc)
            if "safe_mode" in message or "unsafe_deserialization" in message:
                what = "Lambda layer" if "Lambda" in message else "Python code"
                raise UserError(
                    f"{path}: the model contains code ({what}) that safe loading refuses; "
                    "pass --trust-model if you trust this file"
                ) from None
            raise UserError(
                f"{path}: cannot load the Keras model ({_first_line(exc)}); check that the file "
                "is a Keras model"
            ) from exc

    def forward(self, x: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        if self._fn is None:
            model = self.model

            @tf.function(reduce_retracing=True)
            def fn(batch):
                return model(batch, training=False)

            self._fn = fn
        y = self._fn(tf.convert_to_tensor(x))
        if isinstance(y, dict):
            (y,) = y.values()
        elif isinstance(y, (list, tuple)):
            (y,) = y
        return np.asarray(y)


class _SavedModelBackend:
    pads = True
    wants_uint8 = False
    activation = None

    def __init__(self, path: Path, *, output_key: str | None):
        import tensorflow as tf

        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as exc:
            raise UserError(
                f"{path}: cannot load the SavedModel ({_first_line(exc)}); check the folder"
            ) from exc
        signatures = dict(getattr(loaded, "signatures", {}) or {})
        if "serving_default" in signatures:
            fn = signatures["serving_default"]
        elif len(signatures) == 1:
            (fn,) = signatures.values()
        else:
            raise UserError(
                f"{path}: the SavedModel has no serving_default signature "
                f"(signatures: {sorted(signatures)}); export it with model.export(path)"
            )
        args, kwargs = fn.structured_input_signature
        if args or len(kwargs) != 1:
            raise UserError(
                f"{path}: the serving signature takes {len(args) + len(kwargs)} inputs; "
                "DermaTrace audits models with one image input"
            )
        [(self._input_name, in_spec)] = kwargs.items()
        outputs = fn.structured_outputs
        if isinstance(outputs, dict):
            if output_key is not None:
                if output_key not in outputs:
                    raise UserError(
                        f"{path}: output_key {output_key!r} is not an output of the serving "
                        f"signature ({sorted(outputs)}); fix output_key in the sidecar"
                    )
                self._output_key = output_key
            elif len(outputs) == 1:
                (self._output_key,) = outputs
            else:
                raise UserError(
                    f"{path}: the serving signature has outputs {sorted(outputs)}; write "
                    "\"output_key\" (the probability or logit output) in the sidecar"
                )
            out_spec = outputs[self._output_key]
        else:
            self._output_key = None
            out_spec = outputs
        self._dtype = in_spec.dtype
        self._fn = fn
        self._loaded = loaded  # keeps the variables alive
        self.input_size, self.n_outputs = _shape_info(
            str(path),
            None if in_spec.shape.rank is None else tuple(in_spec.shape.as_list()),
            None if getattr(out_spec, "shape", None) is None or out_spec.shape.rank is None
            else tuple(out_spec.shape.as_list()),
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        t = tf.cast(tf.convert_to_tensor(x), self._dtype)
        y = self._fn(**{self._input_name: t})
        if self._output_key is not None:
            y = y[self._output_key]
        return np.asarray(y)


class _TFLiteBackend:
    pads = True
    wants_uint8 = False
    activation = None

    def __init__(self, path: Path):
        import tensorflow as tf

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
                interp = tf.lite.Interpreter(model_path=str(path))
            interp.allocate_tensors()
        except Exception as exc:
            raise UserError(
                f"{path}: cannot load the TensorFlow Lite model ({_first_line(exc)})"
            ) from exc
        ins, outs = interp.get_input_details(), interp.get_output_details()
        if len(ins) != 1 or len(outs) != 1:
            raise UserError(
                f"{path}: the model has {len(ins)} inputs and {len(outs)} outputs; DermaTrace "
                "audits models with one image input and one output"
            )
        self._interp, self._in, self._out = interp, ins[0], outs[0]
        self._path = str(path)
        self._batch = int(self._in["shape"][0])
        self._loop = False
        self.input_size, self.n_outputs = _shape_info(
            str(path), tuple(self._in["shape_signature"]), tuple(self._out["shape_signature"])
        )

    def _resize(self, m: int) -> None:
        if self._loop or m == self._batch:
            return
        shape = [m, *[int(d) for d in self._in["shape"][1:]]]
        try:
            self._interp.resize_tensor_input(self._in["index"], shape, strict=False)
            self._interp.allocate_tensors()
            self._batch = m
        except (RuntimeError, ValueError):  # fixed batch: fall back to one image at a time
            self._interp.resize_tensor_input(self._in["index"], [1, *shape[1:]], strict=False)
            self._interp.allocate_tensors()
            self._batch, self._loop = 1, True
        self._in = self._interp.get_input_details()[0]
        self._out = self._interp.get_output_details()[0]

    def _quantize(self, x: np.ndarray) -> np.ndarray:
        dtype = np.dtype(self._in["dtype"])
        if dtype.kind == "f":
            return x.astype(dtype, copy=False)
        scale, zero = self._in["quantization"]
        q = np.round(x / scale + zero) if scale else np.round(x)
        info = np.iinfo(dtype)
        return np.clip(q, info.min, info.max).astype(dtype)

    def _run(self, x: np.ndarray) -> np.ndarray:
        self._interp.set_tensor(self._in["index"], x)
        self._interp.invoke()
        y = self._interp.get_tensor(self._out["index"]).copy()
        if np.dtype(self._out["dtype"]).kind != "f":
            scale, zero = self._out["quantization"]
            y = (y.astype(np.float64) - zero) * (scale if scale else 1.0)
        return y

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._resize(len(x))
        q = self._quantize(x)
        if self._loop:
            return np.concatenate([self._run(q[i : i + 1]) for i in range(len(q))])
        return self._run(q)


class _CallableBackend:
    pads = False
    wants_uint8 = True
    activation = None
    input_size = None
    n_outputs = None

    def __init__(self, src: Any):
        if getattr(src, "obj", None) is not None:  # a function given to the Python API
            self._fn, self._name = src.obj, src.name
            return
        try:
            if src.module is not None:
                module = importlib.import_module(src.module)
            else:
                name = "dermatrace_model_" + hashlib.sha256(
                    str(src.path.resolve()).encode()
                ).hexdigest()[:12]
                module = sys.modules.get(name)
                if module is None:
                    spec = importlib.util.spec_from_file_location(name, src.path)
                    module = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(module)
                    sys.modules[name] = module
        except Exception as exc:  # the user's module failed to import
            raise UserError(f"{src.name}: cannot import the module ({_first_line(exc)})") from exc
        fn = getattr(module, src.function, None)
        if not callable(fn):
            raise UserError(
                f"{src.name}: the module has no function {src.function!r}; give module:function"
            )
        self._fn, self._name = fn, src.name

    def forward(self, x: np.ndarray) -> np.ndarray:
        returned = np.asarray(self._fn(x), dtype=np.float64)
        y = returned[:, None] if returned.ndim == 1 else returned
        if y.ndim != 2 or len(y) != len(x):
            raise UserError(
                f"{self._name}: returned shape {tuple(returned.shape)} for a batch of {len(x)} images; "
                "return (N,) or (N, classes) probabilities"
            )
        return y


def load_backend(src: Any, *, trust: bool, extra: dict) -> Any:
    """The backend for ``src`` (a located model: ``format``, ``path``, ``name``, ``module``,
    ``function``, and ``obj`` for an object given in memory); raises UserError when the model
    cannot be loaded."""
    if src.format in ("keras", "h5"):
        return _KerasBackend(src.path, trust=trust)
    if src.format == "keras-object":
        return _KerasBackend(src.name, trust=trust, model=src.obj)
    if src.format == "savedmodel":
        return _SavedModelBackend(src.path, output_key=extra.get("output_key"))
    if src.format == "tflite":
        return _TFLiteBackend(src.path)
    if src.format == "onnx":
        return OnnxBackend(src.path, extra=extra)
    if src.format == "callable":
        return _CallableBackend(src)
    raise ValueError(f"unknown format {src.format!r}")
