"""Inference throughput and cache read speed.

    .venv/bin/python bench/bench_inference.py [--weights PATH] [--data DIR] [--n 128]
                                              [--skip-model] [--skip-onnx]

Prints images/s of ``LoadedModel.predict_proba`` (compiled tf.function, fixed batch of 32) against
``keras.Model.predict(batch_size=32)`` on the study's architecture (MobileNetV2 nested as a
sub-model, ImageNet weights, 224x224), and the time to read 3,500 cached predictions with
``ArrayCache`` against one ``.npy`` file per key.

ONNX beside Keras: the same network (MobileNetV2 with ImageNet weights and a two-logit head,
normalisation outside the graph) as a ``.keras`` file and as an NCHW ``.onnx`` graph written from
the Keras weights (conv kernels transposed to OIHW; no converter package needed), both run through
``LoadedModel.predict_proba`` at batch 32 and batch 1, and onnxruntime's ``session.run`` alone;
their outputs are compared. Numbers only; nothing is asserted.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_WEIGHTS = REPO.parent / "shared/data/weights/mobilenet_v2_1.0_224_no_top_imagenet.weights.h5"
DEFAULT_DATA = REPO.parent / "shared/data/dermnetnz_eczema_ad/test"


def build_model(weights: Path, size: int = 224):
    """MobileNetV2 nested as a sub-model, as in the original study (tests/conftest.py)."""
    from tests.conftest import build_nested_mobilenet

    return build_nested_mobilenet(weights, input_size=size)


def load_images(folder: Path, n: int, size: int = 224) -> np.ndarray:
    from harness.data.decode import decode_image

    files = sorted(folder.rglob("*.jpg"))
    if not files:
        raise SystemExit(f"{folder}: no .jpg images")
    decoded = [decode_image(f, size=(size, size)) for f in files[:n]]
    return np.stack([decoded[i % len(decoded)] for i in range(n)])


def best_rate(fn, n: int, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return n / min(times), min(times)


def bench_model(args) -> None:
    from harness.models.open import open_model

    images = load_images(args.data, args.n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "eczemanet.keras"
        t = time.perf_counter()
        build_model(args.weights).save(path)
        path.with_suffix(".json").write_text(json.dumps({
            "class_names": ["atopic_dermatitis", "eczema"], "positive_class": "eczema",
            "threshold": 0.5, "preprocessing": "none", "input_size": [224, 224]}))
        print(f"build + save nested MobileNetV2: {time.perf_counter() - t:.2f} s")

        t = time.perf_counter()
        model = open_model(str(path))
        print(f"open_model (hash {path.stat().st_size / 2**20:.1f} MiB, no TF): "
              f"{(time.perf_counter() - t) * 1e3:.1f} ms")
        t = time.perf_counter()
        model.load()
        print(f"load the Keras model: {time.perf_counter() - t:.2f} s")
        t = time.perf_counter()
        model.predict_proba(images[:32], batch_size=32)
        print(f"first batch (traces the tf.function): {time.perf_counter() - t:.2f} s")

        keras_model = model.keras_model()
        x = images.astype(np.float32)
        keras_model.predict(x[:32], batch_size=32, verbose=0)  # warm-up

        rate, sec = best_rate(lambda: model.predict_proba(images, batch_size=32), args.n,
                              args.repeats)
        print(f"predict_proba   batch 32: {rate:7.1f} images/s ({args.n} images in {sec:.2f} s)")
        rate_k, sec_k = best_rate(lambda: keras_model.predict(x, batch_size=32, verbose=0),
                                  args.n, args.repeats)
        print(f"model.predict   batch 32: {rate_k:7.1f} images/s ({args.n} images in {sec_k:.2f} s)")
        p = model.predict_proba(images, batch_size=32)
        k = keras_model.predict(x, batch_size=32, verbose=0)[:, 0]
        print(f"max |predict_proba - model.predict| = {np.abs(p - k).max():.2e}")


def keras_to_onnx(model, path: Path, *, input_name: str = "input") -> Path:
    """Write a flat Functional Keras model as an NCHW ONNX graph with the same weights.

    Handles the layers of MobileNetV2 and small conv nets: InputLayer, Conv2D, DepthwiseConv2D,
    BatchNormalization, ReLU (max_value -> Clip), ZeroPadding2D, Add, GlobalAveragePooling2D,
    Dropout, Dense (linear, relu, sigmoid or softmax activations). The input is (batch, 3, H, W)
    with a named batch dimension, as ``torch.onnx.export`` writes it with dynamic axes.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, names = [], [], {}

    def const(name, array, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=dtype), name))
        return name

    def activation(layer, x):
        act = getattr(getattr(layer, "activation", None), "__name__", "linear")
        if act == "linear":
            return x
        op = {"relu": "Relu", "sigmoid": "Sigmoid", "softmax": "Softmax"}[act]
        kwargs = {"axis": 1} if op == "Softmax" else {}
        nodes.append(helper.make_node(op, [x], [f"{layer.name}/act:0"], **kwargs))
        return f"{layer.name}/act:0"

    def same_pads(layer, kernel):
        _, h, w, _ = layer.input.shape
        pads = []
        for size, k, s in ((h, kernel[0], layer.strides[0]), (w, kernel[1], layer.strides[1])):
            total = max((-(-size // s) - 1) * s + k - size, 0)  # TensorFlow's "same"
            pads.append((total // 2, total - total // 2))
        return [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]

    in_shape = model.inputs[0].shape
    graph_input = helper.make_tensor_value_info(
        input_name, TensorProto.FLOAT, ["batch", int(in_shape[3]), int(in_shape[1]), int(in_shape[2])])
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            names[layer.name] = input_name
            continue
        srcs = [names[t._keras_history.operation.name]
                for t in layer._inbound_nodes[0].input_tensors]
        out = f"{layer.name}:0"  # tensor names apart from the graph output's
        if kind in ("Conv2D", "DepthwiseConv2D"):
            weights = layer.get_weights()
            kernel = weights[0]
            if kind == "Conv2D":
                w = kernel.transpose(3, 2, 0, 1)  # (kh, kw, in, out) -> OIHW
                group = 1
            else:  # (kh, kw, in, mult) -> (in * mult, 1, kh, kw), one group per input channel
                kh, kw, cin, mult = kernel.shape
                w = kernel.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
                group = cin
            ins = [srcs[0], const(f"{out}/W", w)]
            if layer.use_bias:
                ins.append(const(f"{out}/B", weights[1]))
            ks = kernel.shape[:2]
            pads = same_pads(layer, ks) if layer.padding == "same" else [0, 0, 0, 0]
            nodes.append(helper.make_node("Conv", ins, [out], kernel_shape=list(ks),
                                          strides=list(layer.strides), pads=pads, group=group))
            out = activation(layer, out)
        elif kind == "BatchNormalization":
            gamma, beta, mean, var = layer.get_weights()
            nodes.append(helper.make_node(
                "BatchNormalization",
                [srcs[0], const(f"{out}/g", gamma), const(f"{out}/b", beta),
                 const(f"{out}/m", mean), const(f"{out}/v", var)],
                [out], epsilon=float(layer.epsilon)))
        elif kind == "ReLU":
            if layer.max_value is None:
                nodes.append(helper.make_node("Relu", [srcs[0]], [out]))
            else:
                nodes.append(helper.make_node(
                    "Clip", [srcs[0], const(f"{out}/lo", np.float32(0)),
                             const(f"{out}/hi", np.float32(layer.max_value))], [out]))
        elif kind == "ZeroPadding2D":
            (top, bottom), (left, right) = layer.padding
            nodes.append(helper.make_node(
                "Pad", [srcs[0], const(f"{out}/pads", [0, 0, top, left, 0, 0, bottom, right],
                                       np.int64)], [out], mode="constant"))
        elif kind == "Add":
            nodes.append(helper.make_node("Add", srcs, [out]))
        elif kind == "GlobalAveragePooling2D":
            nodes.append(helper.make_node("GlobalAveragePool", srcs, [f"{out}/4d"]))
            nodes.append(helper.make_node("Flatten", [f"{out}/4d"], [out], axis=1))
        elif kind == "Dropout":
            out = srcs[0]
        elif kind == "Dense":
            kernel, bias = layer.get_weights()
            nodes.append(helper.make_node(
                "Gemm", [srcs[0], const(f"{out}/W", kernel), const(f"{out}/B", bias)], [out]))
            out = activation(layer, out)
        else:
            raise SystemExit(f"keras_to_onnx: layer {layer.name} ({kind}) is not handled")
        names[layer.name] = out
    final = names[model.layers[-1].name]
    n_out = int(model.outputs[0].shape[-1])
    nodes.append(helper.make_node("Identity", [final], ["logits"]))
    graph = helper.make_graph(nodes, model.name, [graph_input],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                                             ["batch", n_out])],
                              initializer=inits)
    onnx_model = helper.make_model(graph, producer_name="dermatrace-bench",
                                   opset_imports=[helper.make_opsetid("", 17)])
    onnx_model.ir_version = 8
    onnx.checker.check_model(onnx_model)
    onnx.save(onnx_model, str(path))
    return path


def bench_onnx(args) -> None:
    """The same MobileNetV2 classifier as .keras and as .onnx, batch 32 and batch 1."""
    import keras
    import onnxruntime as ort

    from harness.models.open import open_model

    images = load_images(args.data, args.n)
    keras.utils.set_random_seed(0)
    backbone = keras.applications.MobileNetV2(input_shape=(224, 224, 3), include_top=False,
                                              weights=None)
    backbone.load_weights(str(args.weights))
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(backbone.output)
    logits = keras.layers.Dense(2, name="logits")(pooled)
    net = keras.Model(backbone.input, logits, name="mobilenet_v2_logits")
    sidecar = {"class_names": ["atopic_dermatitis", "eczema"], "positive_class": "eczema",
               "preprocessing": "mobilenet_v2", "input_size": [224, 224]}
    with tempfile.TemporaryDirectory() as tmp:
        kpath, opath = Path(tmp) / "net.keras", Path(tmp) / "net.onnx"
        net.save(kpath)
        t = time.perf_counter()
        keras_to_onnx(net, opath)
        print(f"\nMobileNetV2 + 2 logits, ImageNet weights, 224x224 "
              f"(.onnx written from the Keras weights in {time.perf_counter() - t:.1f} s, "
              f"{opath.stat().st_size / 2**20:.1f} MiB); onnxruntime {ort.__version__}, "
              f"keras {keras.__version__}")
        for path in (kpath, opath):
            path.with_suffix(".json").write_text(json.dumps(sidecar))
        kmodel, omodel = open_model(str(kpath)).load(), open_model(str(opath)).load()
        x = omodel.preprocess(images)
        session = omodel._backend._session
        nchw = np.ascontiguousarray(x.transpose(0, 3, 1, 2))

        def session_run(batch):
            for s in range(0, len(nchw), batch):
                session.run(None, {"input": nchw[s:s + batch]})

        n1 = min(args.n, 32)
        rows = {
            ("onnx session.run", 32): (lambda: session_run(32), args.n),
            ("onnx predict_proba", 32): (lambda: omodel.predict_proba(images, batch_size=32), args.n),
            ("onnx predict_proba", 1): (lambda: omodel.predict_proba(images[:n1], batch_size=1), n1),
            ("keras predict_proba", 32): (lambda: kmodel.predict_proba(images, batch_size=32), args.n),
            ("keras predict_proba", 1): (lambda: kmodel.predict_proba(images[:n1], batch_size=1), n1),
        }
        for fn, _ in rows.values():  # warm-up: tracing, session arenas
            fn()
        best = {key: float("inf") for key in rows}
        for _ in range(args.repeats):  # take turns, so that a change in load hits all alike
            for key, (fn, _) in rows.items():
                time.sleep(1.0)  # let the other runtime's worker threads stop spinning
                t = time.perf_counter()
                fn()
                best[key] = min(best[key], time.perf_counter() - t)
        for (name, batch), (_, n) in rows.items():
            print(f"{name:<20} batch {batch:>2}: {n / best[(name, batch)]:7.1f} images/s "
                  f"({n} images in {best[(name, batch)]:.2f} s)")
        pk = kmodel.predict_proba(images, batch_size=32)
        po = omodel.predict_proba(images, batch_size=32)
        zk = np.asarray(net(x, training=False), dtype=np.float64)
        zo = np.asarray(session.run(None, {"input": nchw})[0], dtype=np.float64)
        print(f"max |logit keras - logit onnx| = {np.abs(zk - zo).max():.2e}; "
              f"max |p keras - p onnx| = {np.abs(pk - po).max():.2e} over {len(pk)} images "
              f"(p from {pk.min():.3f} to {pk.max():.3f})")


def bench_cache(n: int = 3500, batch: int = 32) -> None:
    from harness.cache import ArrayCache
    from harness.models.predict import predict_cached

    rng = np.random.default_rng(0)
    keys = [hashlib.sha256(str(i).encode()).hexdigest() + ":224x224" for i in range(n)]
    values = rng.random(n)
    with tempfile.TemporaryDirectory() as tmp:
        cache = ArrayCache(Path(tmp) / "segments")
        t = time.perf_counter()
        for s in range(0, n, batch):
            cache.put_many("model/clean", {k: np.float64(v) for k, v in
                                           zip(keys[s:s + batch], values[s:s + batch])})
        write = time.perf_counter() - t
        t = time.perf_counter()
        got = cache.get_many("model/clean", keys)
        read = time.perf_counter() - t
        assert len(got) == n
        segs = len(list((Path(tmp) / "segments").rglob("*.seg")))
        print(f"ArrayCache: write {n} scalars in {n // batch + 1} batches {write * 1e3:.0f} ms, "
              f"read all {read * 1e3:.1f} ms ({segs} segment file(s))")

        class Fake:  # the attributes predict_cached reads on a fully cached run
            hash, cache_tag, output_kind = "model", "tag", "sigmoid"

        cache.put_many("model/clean", {f"{k}|tag": np.float64(v) for k, v in zip(keys, values)})
        t = time.perf_counter()
        predict_cached(Fake(), lambda: None, image_keys=keys, variant="clean", cache=cache)
        print(f"predict_cached, all {n} cached: {(time.perf_counter() - t) * 1e3:.1f} ms")

        root = Path(tmp) / "npy"
        t = time.perf_counter()
        for k, v in zip(keys, values):
            d = root / k[:2]
            d.mkdir(parents=True, exist_ok=True)
            np.save(d / f"{k[:64]}.npy", np.float64(v))
        write_npy = time.perf_counter() - t
        t = time.perf_counter()
        _ = [np.load(root / k[:2] / f"{k[:64]}.npy") for k in keys]
        read_npy = time.perf_counter() - t
        print(f"one .npy per key (for comparison): write {write_npy * 1e3:.0f} ms, "
              f"read all {read_npy * 1e3:.1f} ms")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-model", action="store_true",
                        help="without the Keras predict_proba vs model.predict numbers")
    parser.add_argument("--skip-onnx", action="store_true", help="without the ONNX vs Keras numbers")
    args = parser.parse_args(argv)
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    bench_cache()
    if not args.skip_model:
        bench_model(args)
    if not args.skip_onnx:
        bench_onnx(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
