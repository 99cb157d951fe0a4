"""Where a model is and what its content hash is, without importing TensorFlow.

:func:`locate` turns what the user gave (a file, a SavedModel folder, ``module:function``,
``path/to/file.py:function``) into a :class:`Source`; :func:`locate_object` does the same for a
``keras.Model`` or a Python callable given in memory; :func:`source_hash` hashes the model's bytes
(or, for an object, its architecture and weights or its code).
"""
from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import UserError, UserTypeError

_SUFFIX_FORMATS = {".keras": "keras", ".h5": "h5", ".hdf5": "h5", ".tflite": "tflite",
                   ".onnx": "onnx"}
_GIVE = "give a .keras, .h5, .tflite or .onnx file, a SavedModel folder, or module:function"
#: Protobuf tags that may follow an ONNX ModelProto's leading ir_version (fields 2 to 8).
_ONNX_NEXT_TAGS = frozenset(b"\x12\x1a\x22\x28\x32\x3a\x42")
_CALLABLE = re.compile(r"^(?P<target>.+):(?P<function>[A-Za-z_][A-Za-z0-9_]*)$")
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_CHUNK = 1 << 20




class Source:
    """Where a model is: its format, its file or folder, and for callables the function."""

    def __init__(self, name: str, fmt: str, path: Path | None, function: str | None = None,
                 module: str | None = None, obj: Any = None):
        self.name = name          # as the user gave it (an object: its name)
        self.format = fmt
        self.path = path          # model file/folder; for callables the module's source file
        self.function = function
        self.module = module      # importable module name (callable given as pkg.mod:fn)
        self.obj = obj            # a keras.Model or a function given in memory




def _is_keras_model(obj: Any) -> bool:
    keras = sys.modules.get("keras")  # an object can only be a keras.Model once keras is imported
    return keras is not None and isinstance(obj, keras.Model)


def locate_object(obj: Any) -> Source:
    """A ``keras.Model`` or a Python callable given in memory."""
    if _is_keras_model(obj):
        return Source(str(getattr(obj, "name", "") or "keras_model"), "keras-object", None,
                       obj=obj)
    if callable(obj):
        target = getattr(obj, "__func__", obj)
        module = getattr(target, "__module__", None) or type(obj).__module__
        qualname = getattr(target, "__qualname__", None) or type(obj).__qualname__
        return Source(f"{module}:{qualname}", "callable", None, function=qualname,
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


def locate(model: str) -> Source:
    path = Path(model)
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return Source(model, "savedmodel", path)
        raise UserError(
            f"{model}: a folder but not a SavedModel (no saved_model.pb inside); {_GIVE}"
        )
    if path.is_file():
        fmt = _SUFFIX_FORMATS.get(path.suffix.lower()) or _sniff_format(path)
        if fmt is None:
            raise UserError(f"{model}: unknown model format (suffix {path.suffix!r}); {_GIVE}")
        return Source(model, fmt, path)
    match = _CALLABLE.match(model)
    if match:
        target, function = match["target"], match["function"]
        if target.endswith(".py") or "/" in target or "\\" in target:
            file = Path(target)
            if not file.is_file():
                raise UserError(f"{model}: Python file {target!r} not found; give an existing file")
            return Source(model, "callable", file, function=function)
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
            return Source(model, "callable", origin, function=function, module=target)
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
    return source_hash(locate(model))


def _code_digest(code: Any, h: Any) -> None:
    """Feed a code object's bytecode, names and constants (nested code included) into ``h``."""
    h.update(code.co_code + b"\0" + "\0".join(code.co_names).encode())
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            _code_digest(const, h)
        else:
            h.update(b"\0" + repr(const).encode())


def _object_hash(src: Source) -> str:
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


def source_hash(src: Source) -> str:
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
