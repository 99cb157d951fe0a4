"""The one-run view: lays out what :class:`harness.explore.run_view.RunView` reads."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from harness.data.decode import decode_image
from harness.errors import UserError
from harness.explore.page_photo import md
from harness.explore.photo import Explorer
from harness.explore.run_view import SHOWN_METRICS, Cell, RunView

#: The two views of the app (the sidebar's choice).
PHOTO_VIEW = "One photograph"
RUN_VIEW = "One run"
#: Thumbnails per row behind a cell.
THUMBS_PER_ROW = 4
#: Their side in pixels (decoded as an audit decodes, at this size).
THUMB_SIDE = 192


def _open_photo(file: str) -> None:
    """Button callback: show ``file`` in the one-photograph view."""
    st.session_state.update(view=PHOTO_VIEW, run_image=file, source="run")


def render(run: RunView | None, *, error: str | None, explorer: Explorer | None) -> None:
    st.header("One run")
    if error:
        st.error(error)
    if run is None:
        if not error:
            st.info("Type a run directory in the sidebar (a folder written by 'harness run'), or "
                    "start with `python -m harness explore --run RUN_DIR`.")
        return
    r = run.results
    model, ds = r.get("model") or {}, r.get("dataset") or {}
    gates = r.get("gates")
    verdict = "" if not gates else ("; gates passed" if gates.get("passed") else "; a gate FAILED")
    st.caption(md(f"{run.audit.run_dir}: model {model.get('path')} ({model.get('format')}), "
                  f"{run.audit.n_images} images from {ds.get('root')}, threshold "
                  f"{run.threshold:.2f}{verdict}."))

    groupings = run.groupings()
    if not groupings:
        st.warning("This run has no metrics.")
        return
    left, right = st.columns(2)
    grouping = left.selectbox("Grouping", groupings, key="run_grouping")
    variant = right.selectbox("Variant", run.variants(grouping), key="run_variant")
    names = run.metric_names()
    shown = [m for m in SHOWN_METRICS if m in names] or names[:4]
    metrics = st.multiselect("Metrics", names, default=shown, key="run_metrics")
    st.subheader(md(f"Per group, {variant}"))
    st.table(run.table(grouping, variant, metrics))
    st.caption("Each value with its 95% interval. A group too small to judge keeps its estimate "
               "and interval, marked; it is never ranked below.")

    st.subheader("Worst cells")
    metric = st.selectbox("Ranked by", names, index=names.index("balanced_accuracy")
                          if "balanced_accuracy" in names else 0, key="run_rank_metric")
    worst = run.worst_cells(metric, grouping=grouping)
    if not worst:
        st.caption("No group is large enough to judge with this metric: none is ranked.")
    cells = [run.overall_cell(metric, grouping=grouping, variant=variant), *worst]
    st.caption("Pick a cell to see the images behind it; 'open' shows one in the photograph view.")
    pick = st.radio("Cell", range(len(cells)), format_func=lambda i: cells[i].label(),
                    key="run_cell")
    _images_behind(run, cells[pick])


def _images_behind(run: RunView, cell: Cell) -> None:
    shift_variant = cell.variant
    if cell.variant == "clean":
        others = [v for v in run.variants(cell.grouping) if v != "clean"]
        shift_variant = st.selectbox("Variant for the largest |Δp|", others,
                                     key="run_shift_variant") if others else None
    lists = [(f"Misclassified under {cell.variant}",
              run.misclassified(grouping=cell.grouping, group=cell.group, variant=cell.variant))]
    if shift_variant:
        lists.append((f"Largest |Δp| under {shift_variant}",
                      run.largest_shift(grouping=cell.grouping, group=cell.group,
                                        variant=shift_variant)))
    for title, frame in lists:
        st.markdown(f"**{md(title)}** ({md(cell.group)})")
        if frame.empty:
            st.caption("none")
            continue
        _gallery(run, frame, prefix=title)


def _gallery(run: RunView, frame: pd.DataFrame, *, prefix: str) -> None:
    cols = []
    for i, item in frame.iterrows():
        if i % THUMBS_PER_ROW == 0:  # wide enough for a class name on one line
            cols = st.columns(THUMBS_PER_ROW)
        col = cols[i % THUMBS_PER_ROW]
        try:
            image = decode_image(run.image_path(item["file"]), size=(THUMB_SIDE, THUMB_SIDE))
            col.image(image, width="stretch")
        except UserError as exc:
            col.caption(md(str(exc)))
        col.caption(md(str(item["label"])))
        same = abs(item["p_variant"] - item["p"]) < 5e-4
        col.caption(f"p {item['p']:.3f}" if same else f"p {item['p']:.3f} → {item['p_variant']:.3f}")
        col.button("open", key=f"open-{prefix}-{item['file']}", on_click=_open_photo,
                   args=(str(item["file"]),), help=str(item["file"]))
