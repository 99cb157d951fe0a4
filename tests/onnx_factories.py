"""Small ONNX graphs for the ONNX backend's tests and bench (not a test module).

They are written with ``onnx.helper`` the way ``torch.onnx.export`` writes a PyTorch classifier:
NCHW float32 input (torchvision's ImageNet normalisation applied outside the graph), raw logits
out. Weights are drawn from a seeded generator, so a graph is the same on every run.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

#: Where the graphs' numbers stay valid for onnxruntime releases of the last few years.
OPSET = 17
IR_VERSION = 8

#: torchvision's ImageNet normalisation (what "imagenet_torch" means).
TORCH_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
TORCH_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def _save(graph, path: Path) -> Path:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, producer_name="dermatrace-tests",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def _init(name: str, array: np.ndarray):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name)


def conv_weights(*, seed: int = 2, width: int = 8, n_out: int = 2,
                 out_scale: float = 2.0) -> dict[str, np.ndarray]:
    """Seeded weights of :func:`conv_net` in PyTorch's layout (conv kernels OIHW, the dense
    kernel (n_out, width) as ``torch.nn.Linear`` keeps it)."""
    rng = np.random.default_rng(seed)
    return {
        "conv1.weight": rng.normal(0, 0.3, (width, 3, 3, 3)).astype(np.float32),
        "conv1.bias": rng.normal(0, 0.1, width).astype(np.float32),
        "conv2.weight": rng.normal(0, 0.2, (width, width, 3, 3)).astype(np.float32),
        "conv2.bias": rng.normal(0, 0.1, width).astype(np.float32),
        "fc.weight": (rng.normal(0, 1.0, (n_out, width)) * out_scale).astype(np.float32),
        "fc.bias": rng.normal(0, 0.1, n_out).astype(np.float32),
    }


def conv_net(path: Path, *, size: int = 32, batch: int | str = "batch", layout: str = "nchw",
             seed: int = 2, weights: dict[str, np.ndarray] | None = None,
             dtype: str = "float32", input_name: str = "input",
             symbolic_size: bool = False, input_shape: list | None = None,
             probs_output: bool = False) -> Path:
    """A small PyTorch-style classifier: Conv(3x3, stride 2, pad 1) -> ReLU -> Conv(3x3) -> ReLU
    -> GlobalAveragePool -> Flatten -> Gemm -> logits (batch, n_out).

    Parameters
    ----------
    path : Path
        Where the ``.onnx`` file is written (returned).
    size : int
        Input height and width.
    batch : int or str
        The batch dimension: a name (dynamic, as ``dynamic_axes`` exports it) or a fixed size.
    layout : str
        ``"nchw"`` (PyTorch) or ``"nhwc"`` (a Transpose to NCHW first, as tf2onnx writes).
    weights : dict, optional
        :func:`conv_weights`-shaped arrays (default: ``conv_weights(seed=seed)``; seed 2 spreads
        the eczema probability of 32-px DermNet images over about 0.3 to 0.9).
    dtype : str
        The input's element type: ``"float32"``, ``"float16"`` (cast to float inside) or
        ``"uint8"`` (raw pixels; cast to float inside, normalisation still outside).
    symbolic_size : bool
        Height and width as named dimensions (the sidecar must then give input_size).
    input_shape : list, optional
        The declared input shape, overriding the one ``batch``, ``size`` and ``layout`` make
        (``layout`` still decides whether the graph transposes).
    probs_output : bool
        A second output ``probs`` (the softmax of the logits) after ``logits``.
    """
    from onnx import TensorProto, helper

    w = weights if weights is not None else conv_weights(seed=seed)
    elem = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16,
            "uint8": TensorProto.UINT8}[dtype]
    h, wd = ("height", "width") if symbolic_size else (size, size)
    shape = [batch, 3, h, wd] if layout == "nchw" else [batch, h, wd, 3]
    shape = list(input_shape) if input_shape is not None else shape
    n_out = w["fc.weight"].shape[0]
    nodes, x = [], input_name
    if dtype != "float32":
        nodes.append(helper.make_node("Cast", [x], ["as_float"], to=TensorProto.FLOAT))
        x = "as_float"
    if layout == "nhwc":
        nodes.append(helper.make_node("Transpose", [x], ["to_nchw"], perm=[0, 3, 1, 2]))
        x = "to_nchw"
    nodes += [
        helper.make_node("Conv", [x, "conv1.weight", "conv1.bias"], ["c1"],
                         kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "conv2.weight", "conv2.bias"], ["c2"],
                         kernel_shape=[3, 3], strides=[1, 1], pads=[0, 0, 0, 0]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], transB=1),
    ]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, n_out])]
    if probs_output:
        nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=1))
        outputs.append(helper.make_tensor_value_info("probs", TensorProto.FLOAT, [batch, n_out]))
    graph = helper.make_graph(
        nodes, "conv_net",
        [helper.make_tensor_value_info(input_name, elem, shape)],
        outputs,
        initializer=[_init(k, v) for k, v in w.items()],
    )
    return _save(graph, path)


def two_input_net(path: Path, *, size: int = 32) -> Path:
    """An image plus a second input ("age", (batch, 1)) added to the logits."""
    from onnx import TensorProto, helper

    w = conv_weights(seed=3)
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "fc3.weight", "fc.bias"], ["z"], transB=1),
        helper.make_node("Add", ["z", "age"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "two_inputs",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, size, size]),
         helper.make_tensor_value_info("age", TensorProto.FLOAT, ["batch", 1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        initializer=[_init("fc3.weight", w["fc.weight"][:, :3]), _init("fc.bias", w["fc.bias"])],
    )
    return _save(graph, path)


def tabular_net(path: Path, *, n_features: int = 10) -> Path:
    """A classifier of feature vectors (input (batch, n_features)): not an image model."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(5)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["features", "w", "b"], ["logits"], transB=1)],
        "tabular",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", n_features])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        initializer=[_init("w", rng.normal(size=(2, n_features))), _init("b", np.zeros(2))],
    )
    return _save(graph, path)


def torch_preprocess(images: np.ndarray) -> np.ndarray:
    """The documented PyTorch preprocessing, written out independently of the harness:
    ``(x / 255 - mean) / std`` per RGB channel, then HWC -> CHW (float32 NCHW)."""
    x = (images.astype(np.float32) / np.float32(255.0) - TORCH_MEAN) / TORCH_STD
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)


def run_onnx(path: Path, x: np.ndarray, *, batch: int | None = None) -> np.ndarray:
    """The graph's raw output for ``x``, through onnxruntime directly (``batch``: feed that
    many at a time, for a graph with a fixed batch size)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    if batch is None:
        return np.asarray(session.run(None, {name: x})[0], dtype=np.float64)
    return np.concatenate([np.asarray(session.run(None, {name: x[i:i + batch]})[0],
                                      dtype=np.float64) for i in range(0, len(x), batch)])


def softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
