"""The one-photograph view: lays out what :class:`harness.explore.photo.Explorer` answers."""
from __future__ import annotations

import math
import re

import streamlit as st

from harness.errors import UserError
from harness.explore import pictures
from harness.explore.photo import MAX_UPLOAD_BYTES, MAX_UPLOAD_MB, Explorer, Photo
from harness.explore.run_view import RunView
from harness.results.io import variant_column
from perturbations import Variant

#: What the seed study promised and this model does not predict.
NO_SEVERITY = ("**No severity score.** The seed study promised a \"predicted type of eczema and "
               "severity\". This model predicts the type only (the probability above); it was "
               "not trained to grade severity, so none is shown here or in any audit.")
#: The severity the perturbation panel opens at.
DEFAULT_SEVERITY = 3
DRIFT_SHOWN = {"cosine": "cosine similarity", "spearman": "rank correlation",
               "iou_top10": "overlap of the top 10%", "centroid_shift": "centre shift (of diagonal)"}


def md(text: str) -> str:
    """Plain text made safe for Markdown (class names such as ``atopic_dermatitis`` stay as
    written)."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|~$-])", r"\\\1", str(text))


def _probability(explorer: Explorer, p: float, pred: str) -> str:
    """``p(<class>) = 0.xxxx``: the positive class, or for a K-class model the top class."""
    return f"p({pred if explorer.kclass else explorer.positive_class}) = {p:.4f}"


def _choose_source(run: RunView | None) -> tuple[str, str] | None:
    """What to answer: ``("upload", file_id)`` or ``("run", file)``; None before any choice."""
    state = st.session_state
    uploaded = st.file_uploader(
        f"Upload a photograph (JPEG, PNG, TIFF, BMP, GIF or WebP; at most {MAX_UPLOAD_MB} MB)",
        key="upload", on_change=lambda: state.update(source="upload"))
    if run is not None:
        files = [""] + run.samples["file"].astype(str).tolist()
        if state.get("run_image") not in files:
            state["run_image"] = ""
        st.selectbox("...or one of the run's images", files, key="run_image",
                     on_change=lambda: state.update(source="run"))
    source = state.get("source", "upload")
    if source == "run" and run is not None and state.get("run_image"):
        return ("run", state["run_image"])
    if uploaded is not None:
        return ("upload", uploaded.file_id)
    return None


def _answer(explorer: Explorer, run: RunView | None, source: tuple[str, str]) -> Photo:
    """The photograph's answers, computed once per choice (kept in the session)."""
    state = st.session_state
    key = (source, explorer.model.hash)
    held = state.get("photo")
    if held is not None and held[0] == key:
        return held[1]
    family = state.get("family") or explorer.settings.offered_families()[0]
    if source[0] == "run":
        photo = explorer.photo_file(run.image_path(source[1]), name=source[1], family=family)
    else:
        uploaded = state["upload"]
        if uploaded.size > MAX_UPLOAD_BYTES:
            raise UserError(f"{uploaded.name}: {uploaded.size / 1e6:.1f} MB is over the "
                            f"{MAX_UPLOAD_MB} MB limit; give a smaller file")
        photo = explorer.photo(uploaded.getvalue(), name=uploaded.name, family=family)
    state["photo"] = (key, photo)
    return photo


def render(explorer: Explorer | None, run: RunView | None, *, model_error: str | None,
           run_error: str | None) -> None:
    st.header("One photograph")
    if run_error:
        st.error(run_error)
    if explorer is None:
        st.error(model_error or "No model: start with `python -m harness explore --model M` "
                 "(or --run RUN_DIR, whose model is then used).")
        return
    spec = explorer.model.spec
    decision = ("each image's most probable class (a K-class audit)" if explorer.kclass else
                f"positive class {spec.positive_class}; threshold {spec.threshold:.2f}")
    st.caption(md(f"Model {explorer.model.path} ({explorer.model.format}); classes "
                  f"{', '.join(spec.class_names)}; {decision}; input {spec.input_size[0]} x "
                  f"{spec.input_size[1]}."))
    if run is not None and run.model_hash and run.model_hash != explorer.model.hash:
        st.warning("This model is not the one the run audited: its numbers will differ from "
                   "the run's samples.csv.")
    source = _choose_source(run)
    if source is None:
        st.info("Upload a photograph to see what the model predicts, where it looks, the skin "
                "tone it reads, and what a perturbation changes. The model predicts the type "
                "of eczema only: there is no severity score.")
        return
    try:
        photo = _answer(explorer, run, source)
    except UserError as exc:
        st.error(f"Cannot use this file: {exc}")
        return
    row = run.row(source[1]) if (run is not None and source[0] == "run") else {}
    _prediction(explorer, photo, row)
    _pictures(explorer, photo)
    _skin_tone(explorer, photo)
    _perturbation(explorer, photo, row)


def _prediction(explorer: Explorer, photo: Photo, row: dict) -> None:
    st.subheader(md(photo.name))
    if explorer.kclass:
        st.markdown(f"**{md(_probability(explorer, photo.p, photo.pred))}**: predicted "
                    f"**{md(photo.pred)}**, the most probable of {len(explorer.model.spec.class_names)} classes")
    else:
        st.markdown(f"**{md(_probability(explorer, photo.p, photo.pred))}** against the model's "
                    f"threshold {explorer.threshold:.2f}: predicted **{md(photo.pred)}**")
    if photo.classes:
        st.markdown("Most probable classes: " + ", ".join(
            f"{md(name)} {p:.4f}" for name, p in photo.classes))
    if row:
        st.caption(md(f"The run's samples.csv: p = {row.get('p'):.4f}, pred = {row.get('pred')}, "
                      f"label = {row.get('label')}."))
    st.info(NO_SEVERITY)


def _pictures(explorer: Explorer, photo: Photo) -> None:
    w, h = explorer.size
    left, middle, right = st.columns(3)
    left.image(photo.image, caption=f"as the model sees it ({w} x {h})", width="stretch")
    middle.image(pictures.heatmap_overlay(photo.image, photo.heatmap),
                 caption=explorer.explainer_note, width="stretch")
    right.image(pictures.mask_overlay(photo.image, photo.skin, photo.lesion),
                caption="healthy skin (green) and lesion (magenta) the skin tone is read from",
                width="stretch")


def _skin_tone(explorer: Explorer, photo: Photo) -> None:
    t, cfg = photo.tone, explorer.skin_tone
    st.subheader("Skin tone")
    ita = "not measured (no skin found)" if t["ita"] is None else f"{t['ita']:.1f}°"
    cols = st.columns(4)
    cols[0].metric("ITA", ita)
    cols[1].metric(f"group ({explorer.settings.scheme})", str(t["group"]))
    fitz = t.get("fitzpatrick_est")
    cols[2].metric("Fitzpatrick estimate", "unknown" if fitz is None else f"type {int(fitz)}")
    cols[3].metric("healthy skin share", f"{t['skin_fraction'] * 100:.0f}%",
                   help="share of the image the healthy-skin mask covers")
    if t["group"] == "unknown":
        if t["skin_fraction"] < cfg.min_skin_fraction:
            why = f"less than {cfg.min_skin_fraction:.0%} of the image is healthy skin"
        elif t["b"] is None or t["b"] <= 0:
            why = "the skin's b* is not above 0, where ITA is undefined"
        else:
            why = (f"ITA varies by {t['ita_iqr']:.0f}° across the skin (more than "
                   f"{cfg.max_ita_iqr:.0f}°)")
        st.caption(f"The group is unknown: {why}; an audit counts such images as 'unknown'.")


def _perturbation(explorer: Explorer, photo: Photo, row: dict) -> None:
    st.subheader("Perturbation")
    pick, slide = st.columns([1, 2])
    family = pick.selectbox("Family", explorer.settings.offered_families(), key="family")
    st.session_state.setdefault("severity", DEFAULT_SEVERITY)
    severity = slide.slider("Severity (0 = the clean image)", min_value=0, max_value=5, step=1,
                            key="severity")
    answer = explorer.variant(photo, family, severity)
    left, right, numbers = st.columns([1, 1, 1.2])
    left.image(answer.image, caption=f"{answer.name}", width="stretch")
    right.image(pictures.heatmap_overlay(answer.image, answer.heatmap),
                caption=f"heatmap under {answer.name}", width="stretch")
    flipped = "**flipped**" if answer.flipped else "not flipped"
    numbers.markdown(f"**{md(answer.name)}: {md(_probability(explorer, answer.p, answer.pred))}**, predicted "
                     f"**{md(answer.pred)}** ({flipped}; clean {photo.p:.4f})")
    column = variant_column(answer.name)
    if row and column in row and row[column] is not None:
        numbers.caption(md(f"The run's samples.csv: {column} = {float(row[column]):.4f}"))
    a = answer.achieved
    achieved = [f"ΔL\\* = {a['dL']:+.2f}", f"Δa\\* = {a['da']:+.2f}", f"ΔITA = {a['dITA']:+.1f}°"]
    if "hf_loss" in Variant(family, severity).measures and math.isfinite(a["hf_loss"]):
        achieved.append(f"detail lost = {a['hf_loss']:.0%}")
    if "area" in Variant(family, severity).measures and math.isfinite(a.get("area", math.nan)):
        achieved.append(f"area covered = {a['area']:.2%}")
    asked = ", ".join(f"{k} {v}" for k, v in answer.requested.items()) or "nothing (clean)"
    numbers.markdown("Achieved over skin and lesion: " + ", ".join(achieved))
    numbers.caption(md(f"Asked for: {asked}"))
    if answer.drift:
        lines = [f"- {label}: {answer.drift[key]:.3f}" for key, label in DRIFT_SHOWN.items()
                 if key in answer.drift and math.isfinite(answer.drift[key])]
        numbers.markdown("Heatmap drift from the clean one:\n" + "\n".join(lines))
    elif answer.heatmap is None:
        numbers.caption("No heatmap for this model, so no drift.")
