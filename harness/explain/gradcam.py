"""Grad-CAM (and Grad-CAM++) heatmaps for Keras models, batched under one compiled GradientTape.

The feature layer
-----------------
By default the heatmaps come from the last layer whose output is a spatial feature map
``(N, h, w, C)`` with ``h * w > 1`` on the way to the classifier head, looking *inside* nested
sub-models: for the DermaTrace classifier (a Functional MobileNetV2 used as one layer of an outer
Functional model) that is ``"mobilenetv2_1.00_224/out_relu"``. A layer can be named instead,
either plainly (``"block_16_project_BN"``, searched in the model and every nested sub-model) or
as a path through the nesting (``"mobilenetv2_1.00_224/Conv_1"``). ``GradCam.layer_name`` is
always the full path, so it can be fed back as ``layer=``.

For a nested layer the gradient model is re-wired, not hand-built: the outer graph is re-run on a
fresh input, with the sub-model that holds the layer replaced by a two-output version of itself
(``[layer output, sub-model output]``), so one graph yields both the inner feature map and the
final output.

What is differentiated
----------------------
The class score *before* the output activation when it can be reached: when the model ends in a
``Dense`` (or an ``Activation``) with a sigmoid or softmax, the gradient is taken of that layer's
pre-activation output, the logit. For a one-unit sigmoid, d p / d A = p (1 - p) d z / d A: the same
map scaled by p (1 - p), which underflows to noise when the model is confident (p = 0.9999 leaves
1e-4 of the signal); for a softmax, the class logit is the score of the Grad-CAM paper. Otherwise
the model's output itself is used. ``GradCam.target`` says which ("logit" or "output").

Classes: for a one-unit sigmoid, class 1 is the class the unit's probability measures (the
default) and class 0 its complement (score -z); for K outputs, class k is output k and the
default is each image's predicted class (argmax). ``class_index`` may be one int or one per image.
For drift between clean and perturbed images, pass the *same* class for both runs (e.g. the
positive class, or the clean prediction as an array) so that a flipped prediction does not swap
the class being explained.

Heatmaps
--------
ReLU of the gradient-weighted sum of feature channels, on the feature map's native grid, float32,
not normalised per image: the scale carries the strength of the evidence, an all-zero map means
no positive evidence anywhere, and every drift metric in :mod:`harness.explain.attention` is
scale-invariant. Grad-CAM++ (``plus=True``) weights the channels with the closed-form second- and
third-order terms of Chattopadhay et al. (2018) for an exponential score.

Speed: one ``tf.function`` per (batch size, image size), traced once; batches have a fixed size
and the last one is padded, so a run never retraces. Determinism: the same images in the same
batches give bit-identical heatmaps.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness.errors import NotAvailable, UserError

_ACTIVATIONS_WITH_LOGITS = ("sigmoid", "softmax")
CAM_VERSION = "1"


def _keras():
    import keras

    return keras


def _graph(model):
    """The Functional graph of a Functional or Sequential model, or None for anything else.

    Walking and re-running a graph uses three internals that Keras itself builds
    ``Functional.call`` on (``_nodes_by_depth``, ``_run_through_graph``, ``Sequential._functional``);
    tests/test_gradcam_layer.py pins their behaviour on the DermaTrace architecture.
    """
    keras = _keras()
    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    if isinstance(model, keras.Model) and hasattr(model, "_run_through_graph") and \
            hasattr(model, "_nodes_by_depth"):
        return model
    return None


def _is_nested(op) -> bool:
    return _graph(op) is not None


def _node_outputs(graph) -> dict[int, list]:
    """id(operation) -> output tensors of each of its nodes *in this graph*, in graph order."""
    out: dict[int, list] = {}
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            if node.operation is not None and not node.is_input:
                out.setdefault(id(node.operation), []).append(list(node.outputs))
    return out


def _is_feature_map(tensors: list) -> bool:
    if len(tensors) != 1:
        return False
    shape = tuple(tensors[0].shape)
    return len(shape) == 4 and shape[1] is not None and shape[2] is not None and \
        shape[1] * shape[2] > 1


def _find_last_feature_map(model) -> list[str] | None:
    """Path (outer name first) of the last feature-map layer, searching nested models first
    wherever they sit; None when there is none."""
    graph = _graph(model)
    outputs = _node_outputs(graph)
    for op in reversed(graph.operations):
        if type(op).__name__ == "InputLayer":
            continue
        if _is_nested(op):
            inner = _find_last_feature_map(op)
            if inner is not None:
                return [op.name, *inner]
            continue
        if any(_is_feature_map(ts) for ts in outputs.get(id(op), [])):
            return [op.name]
    return None


def _search(model, name: str) -> list[list[str]]:
    """Every path to a layer called ``name`` in the model and its nested sub-models."""
    found = []
    for op in _graph(model).operations:
        if op.name == name:
            found.append([op.name])
        if _is_nested(op):
            found.extend([op.name, *p] for p in _search(op, name))
    return found


def _candidates(model, prefix: str = "") -> list[str]:
    names = []
    outputs = _node_outputs(_graph(model))
    for op in _graph(model).operations:
        path = f"{prefix}{op.name}"
        if _is_nested(op):
            names.extend(_candidates(op, path + "/"))
        elif any(_is_feature_map(ts) for ts in outputs.get(id(op), [])):
            names.append(path)
    return names


def _resolve_layer(model, layer: str | None) -> list[str]:
    if layer is None:
        path = _find_last_feature_map(model)
        if path is None:
            raise NotAvailable("Grad-CAM: the model has no spatial feature map (no layer with a "
                               "4-D output larger than 1 x 1)")
        return path
    if not isinstance(layer, str) or not layer.strip("/"):
        raise UserError(f"--gradcam-layer: expected a layer name, got {layer!r}; name a layer "
                        "such as 'out_relu' or a path such as 'backbone/Conv_1'")
    hint = ", ".join(_candidates(model)[-5:])
    if "/" in layer:
        path = [p for p in layer.split("/") if p]
        current = model
        for depth, name in enumerate(path):
            graph = _graph(current)
            match = [op for op in graph.operations if op.name == name] if graph is not None else []
            if not match or (depth < len(path) - 1 and not _is_nested(match[0])):
                where = "/".join(path[:depth]) or "the model"
                raise UserError(f"--gradcam-layer: no layer {name!r} in {where} "
                                f"(got {layer!r}); the last feature maps are: {hint}")
            current = match[0]
    else:
        paths = _search(model, layer)
        if not paths:
            raise UserError(f"--gradcam-layer: no layer named {layer!r} in the model or its "
                            f"sub-models; the last feature maps are: {hint}")
        if len(paths) > 1:
            raise UserError(f"--gradcam-layer: {layer!r} is ambiguous ("
                            + ", ".join("/".join(p) for p in paths) + "); give the full path")
        path = paths[0]
    # The named layer must produce a spatial feature map.
    holder = model
    for name in path[:-1]:
        holder = next(op for op in _graph(holder).operations if op.name == name)
    op = next(o for o in _graph(holder).operations if o.name == path[-1])
    if _is_nested(op) or not any(_is_feature_map(ts) for ts in _node_outputs(_graph(holder)).get(id(op), [])):
        raise UserError(f"--gradcam-layer: {'/'.join(path)!r} does not output a spatial feature "
                        f"map (N, h, w, C); the last feature maps are: {hint}")
    return path


def _head_of(graph):
    """(operation, kind) for the op producing the model output: kind "dense" or "activation"
    when its sigmoid/softmax can be peeled off to reach the logit, else None."""
    keras = _keras()
    out = graph.outputs
    if len(out) != 1:
        raise NotAvailable(f"Grad-CAM: the model has {len(out)} outputs; it needs one")
    op = out[0]._keras_history[0]
    act = getattr(op, "activation", None)
    act_name = getattr(act, "__name__", None)
    if isinstance(op, keras.layers.Dense) and act_name in _ACTIVATIONS_WITH_LOGITS:
        return op, "dense"
    if isinstance(op, keras.layers.Activation) and act_name in _ACTIVATIONS_WITH_LOGITS:
        return op, "activation"
    if isinstance(op, keras.layers.Softmax):
        return op, "activation"
    return op, None


def _rewire(model, path: list[str], *, head=None):
    """keras.Model from a fresh input to ``[feature map at path, output]``.

    ``head`` = (op, kind): the final op is replaced by the identity so that the second output is
    the input of the final Dense / Activation (the logit is computed from it by the caller).
    """
    keras = _keras()
    graph = _graph(model)
    target = next(op for op in graph.operations if op.name == path[0])
    if len(path) > 1:
        inner = _rewire(target, path[1:])
    captured: list = []

    def substitute(op):
        if op is target:
            if len(path) > 1:
                def call_nested(*args, **kwargs):
                    feature, out = inner(*args, **kwargs)
                    captured.append(feature)
                    return out
                return call_nested

            def call_layer(*args, **kwargs):
                out = op(*args, **kwargs)
                captured.append(out)
                return out
            return call_layer
        if head is not None and op is head[0]:
            return lambda x, *args, **kwargs: x
        return op

    inputs = [keras.Input(batch_shape=t.shape, dtype=t.dtype) for t in graph.inputs]
    output = graph._run_through_graph(inputs if len(inputs) > 1 else inputs[0],
                                      operation_fn=substitute)
    if len(captured) != 1:
        raise UserError(f"--gradcam-layer: {'/'.join(path)!r} is used {len(captured)} times in the "
                        "model; choose a layer that is called once")
    if isinstance(output, (list, tuple)):
        output = output[0]
    return keras.Model(inputs, [captured[0], output])


class GradCam:
    """Grad-CAM heatmaps of one Keras model at one feature layer.

    Parameters
    ----------
    model : keras.Model
        A Functional or Sequential Keras model with one image input and one output
        (one sigmoid unit, or K softmax/sigmoid outputs).
    layer : str, optional
        Feature layer, by name or ``outer/inner`` path; default: found (see module docstring).
    preprocess : callable, optional
        Maps a uint8 batch (N, H, W, 3) to the float32 batch the model takes (e.g.
        ``LoadedModel.preprocess``). Default: cast to float32 (preprocessing inside the graph).
    plus : bool
        Grad-CAM++ channel weights instead of Grad-CAM's mean gradients.

    Raises
    ------
    NotAvailable
        The model cannot give gradients here (not a Keras graph model, several inputs or outputs,
        no spatial feature map).
    UserError
        ``layer`` names no layer, an ambiguous one, or one without a spatial output.
    """

    def __init__(self, model, *, layer: str | None = None,
                 preprocess: Callable[[np.ndarray], np.ndarray] | None = None, plus: bool = False):
        keras = _keras()
        if not isinstance(model, keras.Model) or _graph(model) is None:
            raise NotAvailable(f"Grad-CAM: needs a Functional or Sequential Keras model, got "
                               f"{type(model).__name__}")
        graph = _graph(model)
        if len(graph.inputs) != 1:
            raise NotAvailable(f"Grad-CAM: the model has {len(graph.inputs)} inputs; "
                               "it needs one image input")
        self.model = model
        self.preprocess = preprocess
        self.plus = bool(plus)
        path = _resolve_layer(model, layer)
        self.layer_path: tuple[str, ...] = tuple(path)
        self.layer_name: str = "/".join(path)
        head_op, head_kind = _head_of(graph)
        self._head_op = head_op
        self._head_kind = head_kind
        self.target: str = "logit" if head_kind else "output"
        self._grad_model = _rewire(model, path, head=(head_op, head_kind) if head_kind else None)
        self.n_outputs = int(graph.outputs[0].shape[-1])
        self._input_hw = tuple(graph.inputs[0].shape[1:3])
        self._steps: dict[tuple[int, int, int, int], Callable] = {}

    def key(self) -> str:
        """Canonical description of what these heatmaps are (for cache keys)."""
        return (f"gradcam-v{CAM_VERSION}|layer={self.layer_name}|plus={int(self.plus)}"
                f"|target={self.target}")

    # ------------------------------------------------------------------------------------------
    def _score_fn(self):
        import tensorflow as tf

        op, kind = self._head_op, self._head_kind
        if kind == "dense":
            def score(h):
                z = tf.tensordot(h, tf.convert_to_tensor(op.kernel), axes=[[h.shape.rank - 1], [0]])
                if op.use_bias:
                    z = z + tf.convert_to_tensor(op.bias)
                return z
            return score
        return lambda h: h

    def _step(self, batch: int, height: int, width: int, channels: int):
        key = (batch, height, width, channels)
        if key in self._steps:
            return self._steps[key]
        import tensorflow as tf

        grad_model = self._grad_model
        score_fn = self._score_fn()
        plus = self.plus

        @tf.function(input_signature=[
            tf.TensorSpec((batch, height, width, channels), tf.float32),
            tf.TensorSpec((batch,), tf.int32),
            tf.TensorSpec((batch,), tf.float32),
        ])
        def step(x, unit, sign):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                # Watching the input records every op, so the gradient reaches the feature map
                # even when every layer is frozen.
                tape.watch(x)
                feature, head_in = grad_model(x, training=False)
                z = tf.cast(tf.reshape(score_fn(head_in), (batch, -1)), tf.float32)
                unit_used = tf.where(unit < 0, tf.argmax(z, axis=1, output_type=tf.int32), unit)
                score = tf.gather(z, unit_used, axis=1, batch_dims=1) * sign
            grads = tf.cast(tape.gradient(score, feature), tf.float32)
            a = tf.cast(feature, tf.float32)
            if plus:
                g2 = tf.square(grads)
                g3 = g2 * grads
                denom = 2.0 * g2 + tf.reduce_sum(a, axis=(1, 2), keepdims=True) * g3
                alpha = g2 / tf.where(denom != 0.0, denom, tf.ones_like(denom))
                weights = tf.reduce_sum(alpha * tf.nn.relu(grads), axis=(1, 2))
            else:
                weights = tf.reduce_mean(grads, axis=(1, 2))
            cam = tf.nn.relu(tf.einsum("bhwc,bc->bhw", a, weights))
            return cam, z

        self._steps[key] = step
        return step

    def _units(self, n: int, class_index) -> tuple[np.ndarray, np.ndarray]:
        """Per image: the output unit to explain (-1 = argmax) and the sign of its score."""
        if class_index is None:
            if self.n_outputs == 1:
                return np.zeros(n, np.int32), np.ones(n, np.float32)
            return np.full(n, -1, np.int32), np.ones(n, np.float32)
        cls = np.asarray(class_index)
        if cls.ndim == 0:
            cls = np.full(n, int(cls))
        if cls.shape != (n,) or not np.issubdtype(cls.dtype, np.integer):
            raise ValueError(f"class_index must be None, an int or (N,) = ({n},) ints, got "
                             f"{class_index!r}")
        n_classes = 2 if self.n_outputs == 1 else self.n_outputs
        if n and (cls.min() < 0 or cls.max() >= n_classes):
            raise ValueError(f"class_index must be in 0..{n_classes - 1}, got values "
                             f"{sorted(set(cls.tolist()))[:5]}")
        if self.n_outputs == 1:
            return np.zeros(n, np.int32), np.where(cls == 1, 1.0, -1.0).astype(np.float32)
        return cls.astype(np.int32), np.ones(n, np.float32)

    def heatmaps(self, images: np.ndarray, *, class_index: int | np.ndarray | None = None,
                 batch_size: int = 32, shrink: bool = True) -> np.ndarray:
        """Heatmaps of a batch of images.

        Parameters
        ----------
        images : (N, H, W, 3) uint8 at the model's input size.
        class_index : None (one sigmoid unit: its class; K outputs: each image's predicted
            class), an int, or (N,) ints. See the module docstring.
        batch_size : images per compiled step; the last batch is padded (no retracing). Smaller
            inputs use the next power of two at or above N, unless ``shrink`` is False: then
            every step has ``batch_size`` images, so that an image's heatmap is the same in
            whichever call and company it comes (a streamed audit asks a few at a time).

        Returns
        -------
        (N, h, w) float32, non-negative, on the feature map's native grid, not normalised.
        """
        images = np.asarray(images)
        if images.ndim != 4:
            raise ValueError(f"images must be (N, H, W, C), got shape {images.shape}")
        n, height, width, channels = images.shape
        expected = self._input_hw
        if all(d is not None for d in expected) and (height, width) != expected:
            raise ValueError(f"images are {height}x{width} but the model takes "
                             f"{expected[0]}x{expected[1]}; resize them first")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        units, signs = self._units(n, class_index)
        bs = batch_size if (n >= batch_size or not shrink) else 1 << max(0, (n - 1).bit_length())
        step = self._step(bs, height, width, channels)
        out = None
        for start in range(0, n, bs):
            chunk = images[start: start + bs]
            k = len(chunk)
            x = self.preprocess(chunk) if self.preprocess is not None else chunk
            x = np.asarray(x, dtype=np.float32)
            u, s = units[start: start + bs], signs[start: start + bs]
            if k < bs:
                pad = bs - k
                x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])
                u = np.concatenate([u, np.repeat(u[-1:], pad)])
                s = np.concatenate([s, np.repeat(s[-1:], pad)])
            cam, _ = step(x, u, s)
            cam = cam.numpy()[:k]
            if out is None:
                out = np.empty((n, *cam.shape[1:]), dtype=np.float32)
            out[start: start + k] = cam
        if out is None:  # n == 0: ask the graph for the grid size
            feature_shape = self._grad_model.outputs[0].shape
            out = np.zeros((0, feature_shape[1], feature_shape[2]), dtype=np.float32)
        return out
