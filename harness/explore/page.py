"""The explorer's frame: its options, the resources loaded once per session, the sidebar, and
which view is shown. The views are :mod:`harness.explore.page_photo` and
:mod:`harness.explore.page_run`; they only lay out what :mod:`harness.explore.photo` and
:mod:`harness.explore.run_view` return."""
from __future__ import annotations

import argparse
import gc
from pathlib import Path

import streamlit as st

from harness.errors import UserError
from harness.explore import page_photo, page_run
from harness.explore.photo import Explorer, Settings
from harness.explore.page_run import PHOTO_VIEW, RUN_VIEW
from harness.explore.run_view import RunView

VIEWS = (PHOTO_VIEW, RUN_VIEW)


def app_options(argv: list[str]) -> dict:
    """The app's own options (what ``harness explore`` passes after ``--``)."""
    parser = argparse.ArgumentParser(prog="harness explore", add_help=False)
    parser.add_argument("--model", default=None)
    parser.add_argument("--model-spec", default=None)
    parser.add_argument("--positive-class", default=None)
    parser.add_argument("--trust-model", action="store_true")
    parser.add_argument("--run", default=None)
    args, _ = parser.parse_known_args(argv)
    return {"model": args.model, "model_spec": args.model_spec,
            "positive_class": args.positive_class, "trust_model": args.trust_model,
            "run": args.run}


@st.cache_resource(show_spinner="Loading the model and its explainer...", max_entries=4)
def load_explorer(model: str, model_spec: str | None, positive_class: str | None, trust: bool,
                  settings: Settings) -> Explorer:
    """The model and its explainer, once per process for these arguments.

    Everything alive once they are loaded (TensorFlow's and Keras' millions of objects) is moved
    out of the garbage collector's sight (``gc.freeze``): otherwise every interaction, which
    allocates enough to trigger a full collection, pays about a second to walk them again.
    """
    explorer = Explorer.open(model, settings=settings, model_spec=model_spec,
                             positive_class=positive_class, trust=trust)
    gc.collect()
    gc.freeze()
    return explorer


@st.cache_resource(show_spinner="Reading the run...", max_entries=4)
def load_run_view(run_dir: str, stamp: float) -> RunView:
    """A run directory, read once (again when its results.json changes: ``stamp``)."""
    return RunView.open(run_dir)


def _stamp(run_dir: str) -> float:
    try:
        return (Path(run_dir) / "results.json").stat().st_mtime
    except OSError:
        return 0.0


def render(*, model: str | None = None, model_spec: str | None = None,
           positive_class: str | None = None, trust_model: bool = False,
           run: str | None = None) -> None:
    """Lay out the whole app for one script run."""
    st.set_page_config(page_title="DermaTrace explorer", layout="wide")
    state = st.session_state
    state.setdefault("view", PHOTO_VIEW)
    state.setdefault("run_dir", run or "")
    with st.sidebar:
        st.title("DermaTrace")
        st.radio("View", VIEWS, key="view")
        st.text_input("Run directory", key="run_dir",
                      help="a folder written by 'harness run' (results.json, samples.csv)")
        st.caption("Everything is computed on this machine by the audit's own code; nothing "
                   "you upload is stored.")

    run_view, run_error = None, None
    run_dir = state["run_dir"].strip()
    if run_dir:
        try:
            run_view = load_run_view(run_dir, _stamp(run_dir))
        except UserError as exc:
            run_error = str(exc).replace("--run ", "run directory ", 1)

    explorer, model_error = None, None
    chosen = model or (run_view.model_path if run_view is not None else None)
    if chosen:
        settings = Settings.of_run(run_view.results) if run_view is not None else Settings()
        cfg = (run_view.results.get("config") or {}) if run_view is not None else {}
        try:
            explorer = load_explorer(chosen, model_spec or (None if model else cfg.get("model_spec")),
                                     positive_class or (None if model else cfg.get("positive_class")),
                                     bool(trust_model or (not model and cfg.get("trust_model"))),
                                     settings)
        except UserError as exc:
            model_error = str(exc)

    if state["view"] == RUN_VIEW:
        page_run.render(run_view, error=run_error, explorer=explorer)
    else:
        page_photo.render(explorer, run_view, model_error=model_error, run_error=run_error)
