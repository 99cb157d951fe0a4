"""The ONNX backend: a ``.onnx`` graph run by onnxruntime on the CPU.

What PyTorch exports (``torch.onnx.export``) is the common case: one NCHW float32 image input,
ImageNet normalisation applied outside the graph (the sidecar's ``preprocessing``), raw logits
out, and a batch dimension that is either named (``dynamic_axes``) or fixed (often 1). Everything
DermaTrace needs is read from the graph's input and output through onnxruntime's session API (the
``onnx`` package is not needed):

- the layout: the dimension of size 3 at position 1 (NCHW) or 3 (NHWC); when the shape does not
  tell (both or neither are 3, or both are named), the sidecar's ``layout`` (``"nchw"`` or
  ``"nhwc"``) decides;
- the input size (width, height), unless height or width are named dimensions (then the sidecar's
  ``input_size`` is required);
- the batch size: a named dimension takes any batch; a fixed N gets batches of exactly N, the
  last one padded;
- the element type: float32, float16 or float64 get the preprocessed pixels cast to it; uint8
  gets the raw pixels (the sidecar's preprocessing must then be ``"none"``);
- the output: one tensor (batch, K) or (batch,); with several outputs the sidecar's
  ``output_key`` names the one to read. Whether it holds probabilities or logits is detected from
  the values, as for every format (or the sidecar's ``output`` says).

An ONNX graph has no gradients here, so Grad-CAM is not available for it.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from harness.errors import UserError

#: onnxruntime's element type names -> numpy dtypes DermaTrace feeds.
INPUT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8,
}

#: Channels position in the input shape for each layout.
_CHANNELS_AT = {"nchw": 1, "nhwc": 3}

_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : [A-Z_]+ : ")


def ort_message(exc: BaseException, limit: int = 160) -> str:
    """onnxruntime's error as one short line, without its ``[ONNXRuntimeError] : 7 : ...`` code."""
    text = str(exc).strip()
    text = _ORT_PREFIX.sub("", text.splitlines()[0] if text else type(exc).__name__)
    text = re.sub(r"^Load model from .* failed:", "", text).strip() or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dims(shape) -> list[int | str | None]:
    """A session shape with unknown dimensions as their name (str) or None."""
    return [d if isinstance(d, str) or d is None else (int(d) if int(d) > 0 else None)
            for d in (shape or [])]


def _fixed(d) -> bool:
    return isinstance(d, int)


def read_layout(path: str, name: str, dims: list, declared: str | None) -> str:
    """``"nchw"`` or ``"nhwc"`` for a 4-dimensional image input (see the module docstring).

    Raises
    ------
    UserError
        When the input has no place for 3 colour channels, or the shape does not tell and the
        sidecar gives no ``layout``.
    """
    shown = [d if d is not None else "?" for d in dims]
    if declared is not None:
        at = _CHANNELS_AT[declared]
        if _fixed(dims[at]) and dims[at] != 3:
            raise UserError(
                f"{path}: the sidecar says layout {declared!r} but the input {name!r} has "
                f"{dims[at]} at position {at} (shape {shown}); fix layout (channels = 3)"
            )
        return declared
    threes = [k for k, at in _CHANNELS_AT.items() if dims[at] == 3]
    named = [k for k, at in _CHANNELS_AT.items() if not _fixed(dims[at])]
    if len(threes) == 1:
        return threes[0]
    if not threes and len(named) == 1:
        return named[0]
    if not threes and not named:
        raise UserError(
            f"{path}: the input {name!r} has shape {shown}: no 3 colour channels at position 1 "
            "(NCHW) or 3 (NHWC); DermaTrace feeds RGB images"
        )
    raise UserError(
        f"{path}: the input {name!r} has shape {shown}, which does not tell where its colour "
        "channels are; write \"layout\": \"nchw\" or \"nhwc\" in the model sidecar"
    )


class OnnxBackend:
    """A loaded ONNX graph (see the module docstring); the interface of
    :mod:`harness.models.formats`' backends."""

    pads = False  # onnxruntime takes any batch; a fixed batch size is padded in forward()
    activation = None

    def __init__(self, path: Path, *, extra: dict):
        try:
            import onnxruntime as ort
        except ImportError:  # a listed dependency, but say what to do
            raise UserError(
                f"{path}: reading ONNX models needs onnxruntime; pip install onnxruntime"
            ) from None
        self._path = str(path)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: keep optimiser notes out of the terminal
        try:
            session = ort.InferenceSession(str(path), sess_options=options,
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # a user's file: any failure to load is bad input
            raise UserError(
                f"{path}: not a valid ONNX model ({ort_message(exc)}); give a model exported "
                "with torch.onnx.export or another ONNX writer"
            ) from None
        self._session = session
        self._run_options = ort.RunOptions()
        self._run_options.log_severity_level = 4  # a failed run is raised, not also logged
        self._read_input(session.get_inputs(), extra.get("layout"))
        self._read_output(session.get_outputs(), extra.get("output_key"))

    def _read_input(self, inputs, declared_layout: str | None) -> None:
        path = self._path
        if len(inputs) != 1:
            names = ", ".join(repr(i.name) for i in inputs) or "none"
            raise UserError(
                f"{path}: the graph has {len(inputs)} inputs ({names}); DermaTrace audits models "
                "with one image input: export the model with the image as its only input"
            )
        (arg,) = inputs
        dims = _dims(arg.shape)
        shown = [d if d is not None else "?" for d in dims]
        if arg.type not in INPUT_TYPES or len(dims) != 4:
            what = f"type {arg.type}" if arg.type not in INPUT_TYPES else f"shape {shown}"
            raise UserError(
                f"{path}: the input {arg.name!r} ({what}) is not an image; DermaTrace feeds "
                "image batches (batch, 3, height, width) or (batch, height, width, 3) of "
                f"{', '.join(t[7:-1] for t in INPUT_TYPES)}"
            )
        self.input_name = arg.name
        self.layout = read_layout(path, arg.name, dims, declared_layout)
        h, w = (dims[2], dims[3]) if self.layout == "nchw" else (dims[1], dims[2])
        self.input_size = (w, h) if _fixed(h) and _fixed(w) else None
        self.batch = dims[0] if _fixed(dims[0]) else None  # None: any batch size
        self.dtype = np.dtype(INPUT_TYPES[arg.type])
        self.wants_uint8 = self.dtype == np.uint8

    def _read_output(self, outputs, output_key: str | None) -> None:
        path = self._path
        names = [o.name for o in outputs]
        if output_key is not None:
            if output_key not in names:
                raise UserError(
                    f"{path}: output_key {output_key!r} is not an output of the graph "
                    f"({', '.join(map(repr, names))}); fix output_key in the sidecar"
                )
            out = outputs[names.index(output_key)]
        elif len(outputs) == 1:
            (out,) = outputs
        else:
            raise UserError(
                f"{path}: the graph has outputs {', '.join(map(repr, names))}; write "
                "\"output_key\" (the probability or logit output) in the sidecar"
            )
        dims = _dims(out.shape)
        if len(dims) not in (1, 2):
            raise UserError(
                f"{path}: the output {out.name!r} has shape "
                f"{[d if d is not None else '?' for d in dims]}; DermaTrace reads (batch,) or "
                "(batch, classes)"
            )
        self.output_name = out.name
        self.n_outputs = 1 if len(dims) == 1 else (dims[1] if _fixed(dims[1]) else None)

    def _to_input(self, x: np.ndarray) -> np.ndarray:
        if self.wants_uint8 and x.dtype != np.uint8:
            raise UserError(
                f"{self._path}: the input {self.input_name!r} takes uint8 pixels, so the graph "
                "does its own normalisation; write \"preprocessing\": \"none\" in the model sidecar"
            )
        if self.layout == "nchw":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x, dtype=self.dtype)

    def _run(self, x: np.ndarray) -> np.ndarray:
        try:
            (y,) = self._session.run([self.output_name], {self.input_name: x},
                                     self._run_options)
        except Exception as exc:  # e.g. a graph that needs another size than the sidecar's
            raise UserError(
                f"{self._path}: onnxruntime cannot run the graph on input {self.input_name!r} of "
                f"shape {list(x.shape)} ({ort_message(exc)}); check input_size and layout in "
                "the model sidecar"
            ) from None
        return np.asarray(y)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Raw outputs (N, K) for a batch of images (N, H, W, 3): uint8 raw pixels for a uint8
        input, else float32 preprocessed pixels."""
        x = self._to_input(x)
        if self.batch is None:
            return self._run(x)
        n, step, parts = len(x), self.batch, []
        for start in range(0, n, step):
            piece = x[start : start + step]
            m = len(piece)
            if m < step:
                padded = np.zeros((step, *piece.shape[1:]), dtype=piece.dtype)
                padded[:m] = piece
                piece = padded
            parts.append(self._run(piece)[:m])
        return np.concatenate(parts)
