"""How live the explorer feels: a warm upload and a severity change, on real DermNet NZ images.

The model is the DermaTrace architecture (MobileNetV2 nested in a Functional model, ImageNet
backbone weights from ../shared/data/weights, one sigmoid unit, 224 x 224; Grad-CAM at the found
layer), saved to a temporary folder with its sidecar. The page runs headless under Streamlit's
``AppTest``, exactly the script ``harness explore`` serves:

- *upload*: a new photograph uploaded once the model is loaded (decode, skin tone, masks, the
  prediction, Grad-CAM, and the perturbation panel at its opening severity: a second prediction
  and heatmap) -- the page's whole rerun;
- *severity*: the slider moved (every severity of the shown family was answered with the
  upload, in the same model calls, so this is the page's rerun);
- *family*: another family chosen (its five severities perturbed, predicted and explained in
  one forward and one Grad-CAM pass, drift and what each achieved measured).

Each is timed over several photographs and severities (median and worst printed), and beside it
the library calls the page makes (``Explorer.photo``, ``Explorer.variant``) without Streamlit.

    .venv/bin/python bench/bench_explore.py [--images 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_HOME", str(Path(tempfile.gettempdir()) / "dermatrace-bench-keras"))

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("DERMATRACE_SHARED_DATA", REPO.parent / "shared" / "data"))
WEIGHTS = SHARED / "weights" / "mobilenet_v2_1.0_224_no_top_imagenet.weights.h5"


def _app(**kwargs):
    from harness.explore.page import render

    render(**kwargs)


def save_model(folder: Path) -> Path:
    from tests.conftest import build_nested_mobilenet

    path = folder / "eczemanet.keras"
    build_nested_mobilenet(WEIGHTS).save(path)
    path.with_suffix(".json").write_text(json.dumps({
        "class_names": ["atopic_dermatitis", "eczema"], "positive_class": "eczema",
        "threshold": 0.5, "preprocessing": "none", "input_size": [224, 224]}))
    return path


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def summary(name: str, seconds: list[float]) -> str:
    return (f"{name:<38} median {statistics.median(seconds):.3f} s, worst {max(seconds):.3f} s "
            f"(n = {len(seconds)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=5, help="photographs uploaded (after one "
                        "warm-up upload)")
    args = parser.parse_args()
    from streamlit.testing.v1 import AppTest

    from harness.explore.photo import Explorer, Settings

    files = sorted((SHARED / "dermnetnz_eczema_ad" / "test").glob("*/*.jpg"))[: args.images + 1]
    with tempfile.TemporaryDirectory(prefix="dermatrace-bench-explore-") as tmp:
        model = save_model(Path(tmp))
        at = AppTest.from_function(_app, kwargs={"model": str(model)}, default_timeout=300)
        cold = timed(at.run)
        uploads, slides, switches = [], [], []
        for i, f in enumerate(files):
            at.file_uploader(key="upload").set_value((f.name, f.read_bytes(), "image/jpeg"))
            seconds = timed(at.run)
            assert not at.exception and not at.error, (at.exception, at.error)
            if i:  # the first upload warms up (traces the compiled functions)
                uploads.append(seconds)
            for severity in (4, 5, 1):
                at.slider(key="severity").set_value(severity)
                seconds = timed(at.run)
                if i:
                    slides.append(seconds)
            for family in ("blur", "brightness_down"):
                at.selectbox(key="family").set_value(family)
                seconds = timed(at.run)
                if i:
                    switches.append(seconds)
        explorer = Explorer.open(str(model), settings=Settings())
        explorer.variant(explorer.photo(files[0].read_bytes(), name="warm",
                                        family="redness"), "blur", 3)
        photo_s, variant_s = [], []
        for f in files[1:]:
            data = f.read_bytes()
            photo_s.append(timed(lambda: explorer.photo(data, name=f.name, family="redness")))
            photo = explorer.photo(data, name=f.name)
            for family, severity in (("blur", 3), ("redness", 4), ("brightness_down", 5)):
                variant_s.append(timed(lambda: explorer.variant(photo, family, severity)))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"explorer, MobileNetV2 224 x 224 with Grad-CAM, {cpus} CPUs; first page (model "
          f"load, TensorFlow import) {cold:.1f} s")
    print(summary("warm upload (page rerun)", uploads))
    print(summary("severity change (page rerun)", slides))
    print(summary("family change (page rerun)", switches))
    print(summary("  Explorer.photo + a family (library)", photo_s))
    print(summary("  Explorer.variant, a new family", variant_s))


if __name__ == "__main__":
    main()
