"""The explorer's logic, headless (``streamlit.testing.v1.AppTest``) and without Streamlit
(``harness.explore.photo``, ``harness.explore.run_view``): one photograph answered with the
audit's own numbers, bad files as messages, a run's cells and the images behind them, and bad
command-line input as one line with exit code 2."""
from __future__ import annotations

import json
import re
import socket

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import REDNESS_MODEL
from harness import cli
from harness.errors import UserError
from harness.explore.photo import MAX_UPLOAD_BYTES, Explorer, Settings
from harness.explore.run_view import RunView
from harness.explore.server import server_options
from sample_run import make_sample_run


def _app(**kwargs):
    from harness.explore.page import render

    render(**kwargs)


def _start(**kwargs) -> AppTest:
    at = AppTest.from_function(_app, kwargs=kwargs, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def _shown(at: AppTest, pattern: str) -> list[float]:
    """Every number the page's Markdown shows after ``pattern`` (escapes removed)."""
    text = "\n".join(m.value.replace("\\", "") for m in at.markdown)
    return [float(x) for x in re.findall(pattern + r"(\d\.\d{4})", text)]


def test_a_run_image_shows_the_runs_numbers_clean_and_perturbed(dermnet_small_run):
    samples = pd.read_csv(dermnet_small_run / "samples.csv")
    at = _start(run=str(dermnet_small_run))
    row = samples.iloc[3]
    at.selectbox(key="run_image").set_value(row["file"]).run()
    assert not at.exception and not at.error
    assert _shown(at, r"\*\*p\(eczema\) = ") == [round(row["p"], 4)]
    assert f"predicted **{row['pred']}**" in "".join(m.value.replace("\\", "") for m in at.markdown)
    for family, severity in (("blur", 3), ("brightness_down", 4)):
        at.selectbox(key="family").set_value(family)
        at.slider(key="severity").set_value(severity).run()
        shown = _shown(at, rf"{family}@{severity}: p\(eczema\) = ")
        assert shown == [round(row[f"p[{family}@{severity}]"], 4)], (family, severity)
    # the skin tone is the run's
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["ITA"] == f"{row['ita']:.1f}°"
    assert metrics["group (chardon6)"] == row["group"]
    # the severity the study promised is said not to exist
    assert any("No severity score" in i.value for i in at.info)


def test_the_session_equals_the_audit_to_the_last_digit(dermnet_small_run):
    """Without the page: the photograph's answers are the audit's numbers (float64, 1e-12)."""
    run = RunView.open(dermnet_small_run)
    explorer = Explorer.open(REDNESS_MODEL, settings=Settings.of_run(run.results))
    assert explorer.explainer == "occlusion"  # a Python model: no gradients
    for _, row in run.samples.iterrows():
        photo = explorer.photo_file(run.image_path(row["file"]), name=row["file"])
        assert photo.p == pytest.approx(row["p"], abs=1e-9) and photo.pred == row["pred"]
        assert photo.tone["ita"] == pytest.approx(row["ita"], abs=1e-6)
        answer = explorer.variant(photo, "brightness_down", 4)
        assert answer.p == pytest.approx(row["p[brightness_down@4]"], abs=1e-9)
        assert answer.flipped == bool(row["flip[brightness_down@4]"])
        assert answer.achieved["dL"] < -5  # a darker image, measured
        assert photo.heatmap.shape == (7, 7) and answer.drift["cosine"] <= 1.0  # the audit's grid


@pytest.mark.parametrize("name,data,reason", [
    ("notes.txt", b"not a photograph at all", "unrecognised image content"),
    ("cut.jpg", None, "truncated image"),
    ("empty.png", b"", "empty file"),
])
def test_a_bad_upload_is_a_message_and_the_app_keeps_answering(dermnet_small_run, name, data,
                                                              reason):
    good = next((dermnet_small_run.parent / "data" / "eczema").glob("*.jpg")).read_bytes()
    if data is None:
        data = good[: len(good) // 2]
    at = _start(model=REDNESS_MODEL)
    at.file_uploader(key="upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"Cannot use this file: {name}: {reason}; give a "
                                           "JPEG, PNG, TIFF, BMP, GIF or WebP photograph"]
    at.file_uploader(key="upload").set_value(("good.jpg", good, "image/jpeg")).run()
    assert not at.error and len(_shown(at, r"\*\*p\(eczema\) = ")) == 1


def test_an_upload_over_the_limit_is_refused_before_decoding():
    explorer = Explorer.open(REDNESS_MODEL, settings=Settings())
    with pytest.raises(UserError, match=r"^big.jpg: 21.0 MB is over the 20 MB limit"):
        explorer.photo(b"\xff\xd8\xff" + bytes(MAX_UPLOAD_BYTES), name="big.jpg")
    assert server_options(host="127.0.0.1", port=8501)["server.maxUploadSize"] == 20


def test_a_k_class_model_lists_its_top_classes(tmp_path, dermnet_small_run):
    spec = tmp_path / "rgb.json"
    spec.write_text(json.dumps({"class_names": ["red", "green", "blue"], "positive_class": "red",
                                "preprocessing": "none", "input_size": [64, 64]}))
    model = REDNESS_MODEL.replace(":redness", ":channel_softmax")
    explorer = Explorer.open(model, settings=Settings(), model_spec=str(spec))
    image = next((dermnet_small_run.parent / "data" / "eczema").glob("*.jpg"))
    photo = explorer.photo_file(image)
    names = [c for c, _ in photo.classes]
    probs = np.array([p for _, p in photo.classes])
    assert sorted(names) == ["blue", "green", "red"] and np.all(np.diff(probs) <= 0)
    assert photo.p == pytest.approx(dict(photo.classes)["red"], abs=1e-12)
    assert photo.pred == ("red" if photo.p >= 0.5 else "not red")


def test_a_k_class_run_image_shows_its_top_class_as_samples_csv_does(tmp_path, dermnet_small_run):
    """A K-class model without a positive class: the page's p is the top class's probability
    and pred the top class, clean and perturbed, as in the K-class run's samples.csv."""
    spec = tmp_path / "rgb.json"
    spec.write_text(json.dumps({"class_names": ["atopic_dermatitis", "eczema", "other"],
                                "preprocessing": "none", "input_size": [64, 64]}))
    model = REDNESS_MODEL.replace(":redness", ":channel_softmax")
    out = tmp_path / "run"
    assert cli.main(["run", "--model", model, "--model-spec", str(spec),
                     "--data", str(dermnet_small_run.parent / "data"), "--out", str(out),
                     "--perturbations", "brightness_down", "--severities", "4", "--gradcam", "none",
                     "--cache", "none", "--n-boot", "20", "--quiet"]) == 0
    run = RunView.open(out)
    explorer = Explorer.open(model, settings=Settings.of_run(run.results), model_spec=str(spec))
    assert explorer.kclass
    for _, row in run.samples.iterrows():
        photo = explorer.photo_file(run.image_path(row["file"]), name=row["file"])
        assert photo.p == pytest.approx(row["p"], abs=1e-9) and photo.pred == row["pred"]
        assert photo.p == pytest.approx(row[f"p:{photo.pred}"], abs=1e-9)
        answer = explorer.variant(photo, "brightness_down", 4)
        assert answer.p == pytest.approx(row["p[brightness_down@4]"], abs=1e-9)
        assert answer.pred == row["pred[brightness_down@4]"]
        assert answer.flipped == bool(row["flip[brightness_down@4]"])
        assert answer.heatmap is not None and answer.heatmap.min() >= 0


def test_a_keras_model_is_explained_by_grad_cam(tmp_path, dermnet_small_run):
    from model_factories import tiny_convnet, write_sidecar

    path = tmp_path / "tiny.keras"
    tiny_convnet(size=32).save(path)
    write_sidecar(path, class_names=["atopic_dermatitis", "eczema"], positive_class="eczema",
                  preprocessing="none", input_size=[32, 32])
    explorer = Explorer.open(str(path), settings=Settings())
    assert explorer.explainer == "grad-cam" and "layer" in explorer.explainer_note
    image = next((dermnet_small_run.parent / "data" / "eczema").glob("*.jpg"))
    photo = explorer.photo_file(image)
    p = float(explorer.model.predict_proba(photo.image[None], batch_size=32)[0])
    assert photo.p == pytest.approx(p, abs=1e-6)
    same = explorer.variant(photo, "blur", 0)
    assert same.p == photo.p and same.drift["cosine"] == 1.0 and not same.flipped
    blurred = explorer.variant(photo, "blur", 5)
    assert blurred.heatmap.shape == photo.heatmap.shape and blurred.drift["cosine"] < 1.0


def test_the_run_view_ranks_cells_and_opens_an_image(tmp_path, dermnet_small_run):
    run_dir = tmp_path / "sample"
    make_sample_run(run_dir, n=160, n_boot=20, severities=(3,), gradcam=False, gates=False)
    view = RunView.open(run_dir)
    worst = view.worst_cells("balanced_accuracy")
    assert worst and all(c.group != "overall" for c in worst)
    assert [c.value for c in worst] == sorted(c.value for c in worst)
    frame = view.audit.metrics("group", worst[0].variant)
    assert frame.loc[worst[0].group, "balanced_accuracy"] == worst[0].value
    assert frame.loc[worst[0].group, "status"] == "ok"
    flip = view.largest_shift(grouping="group", group=worst[0].group, variant="blur@3")
    assert list(flip["delta_p"].abs()) == sorted(flip["delta_p"].abs(), reverse=True)

    # In the page: the DermNet run (real images), its table, then one image opened.
    at = _start(run=str(dermnet_small_run))
    at.radio(key="view").set_value("One run").run()
    assert not at.exception and not at.error
    table = at.table[0].value
    assert "overall" in table.index and table.loc["overall", "n"] == 4
    assert "[" in table.loc["overall", "balanced_accuracy"]
    opened = [b for b in at.button if b.key.startswith("open-Misclassified")]
    assert opened, "the run's misclassified images are listed"
    opened[0].click().run()
    assert at.radio(key="view").value == "One photograph"
    file = at.session_state["run_image"]
    row = pd.read_csv(dermnet_small_run / "samples.csv").set_index("file").loc[file]
    assert row["pred"] != row["label"]
    assert _shown(at, r"\*\*p\(eczema\) = ") == [round(row["p"], 4)]


def _one_line_exit_2(argv, capsys, expected: str) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {expected}"), err


def test_bad_command_line_input_is_one_line_exit_2(tmp_path, capsys, dermnet_small_run):
    _one_line_exit_2(["explore", "--model", str(tmp_path / "none.keras")], capsys, "--model")
    _one_line_exit_2(["explore", "--run", str(tmp_path)], capsys, f"--run {tmp_path}: ")
    _one_line_exit_2(["explore", "--run", str(tmp_path / "nope")], capsys, "--run")
    for port in ("0", "70000"):
        _one_line_exit_2(["explore", "--model", REDNESS_MODEL, "--port", port], capsys,
                         f"--port {port}: not a port")
    _one_line_exit_2(["explore", "--port", "eighty"], capsys, "harness explore: argument --port")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        _one_line_exit_2(["explore", "--run", str(dermnet_small_run), "--port", str(port)],
                         capsys, f"--port {port}: already in use on 127.0.0.1")
    _one_line_exit_2(["explore", "--host", "203.0.113.7"], capsys, "--host 203.0.113.7: cannot "
                     "listen there")


def test_the_server_reaches_nothing_outside_and_opens_no_browser():
    options = server_options(host="127.0.0.1", port=8600)
    assert options["browser.gatherUsageStats"] is False
    assert options["server.headless"] is True and options["server.fileWatcherType"] == "none"
    assert options["server.address"] == "127.0.0.1" and options["server.port"] == 8600
