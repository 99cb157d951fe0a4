"""One photograph, answered by the audit's own code: no Streamlit here, so it is testable alone.

:class:`Explorer` holds what is expensive and lives as long as the app (the model, loaded once,
and its explainer); :meth:`Explorer.photo` answers one photograph and
:meth:`Explorer.variant` one rung of the perturbation ladder on it. Every number comes from the
functions an audit calls, on a batch of one image, so that for an image of a run it equals the
run's ``samples.csv``:

- decoding: ``harness.data.load.decode_one_file`` (``load_dataset``'s policy and checks) at the
  model's input size, and the image's cache key ``harness.pipeline.inputs.image_key``;
- skin tone: ``subgroups.estimate_skin_tone`` under the run's skin-tone settings and scheme;
- masks and the ladder: ``harness.pipeline.ladder.RegionMasks`` and ``PerturbedImages`` (stochastic
  families seeded by the image's content hash and the run's seed), what a variant achieved from
  ``PerturbedImages.achieved``;
- predictions: ``LoadedModel.predict_proba`` (what ``harness.models.predict.predict_cached``
  calls; nothing is cached here) and the predicted class ``harness.pipeline.write.predicted_class``;
- heatmaps: Grad-CAM as the Grad-CAM stage computes them (``LazyGradCam``, the positive class
  explained on clean and perturbed images alike) and ``harness.explain.attention.drift``; a model
  without gradients is explained by occlusion as the audit explains it
  (``harness.explain.occlusion.Occlusion``, the audit's grid and blurred baseline).

Nothing is written to disk: the prediction cache is disabled.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from harness.cache import ArrayCache
from harness.data.load import decode_one_file
from harness.errors import NotAvailable, UserError
from harness.explain.attention import DRIFT_METRICS, drift
from harness.explain.occlusion import DEFAULT_GRID, Occlusion
from harness.models.open import LoadedModel, open_model
from harness.models.outputs import explained_class_probability, top_class_index
from harness.pipeline.gradcam import LazyGradCam, explained_class_index
from harness.pipeline.inputs import image_key
from harness.pipeline.ladder import PerturbedImages, RegionMasks
from harness.pipeline.timer import Timer
from harness.pipeline.write import predicted_class
from perturbations import FAMILIES, Variant, families

#: Uploads larger than this are refused (the page says so; Streamlit's limit is set to match).
MAX_UPLOAD_MB = 20
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
#: Classes listed for a K-class model.
TOP_CLASSES = 3
#: Occlusion patches per side for models without gradients: the audit's own default.
OCCLUSION_GRID = DEFAULT_GRID


@dataclass(frozen=True)
class Settings:
    """The audit settings one photograph's answers depend on (a run's, or the defaults).

    Attributes
    ----------
    seed : int
        Seed of the stochastic perturbation families (``--seed``).
    skin_tone_config : str or None
        The skin-tone settings file (None: the packaged one).
    scheme : str
        The ITA binning scheme.
    gradcam_layer : str or None
        Grad-CAM's feature layer (None: found).
    families : tuple of str
        The perturbation families offered (the run's, else the ``clinical`` preset).
    """

    seed: int = 0
    skin_tone_config: str | None = None
    scheme: str = "chardon6"
    gradcam_layer: str | None = None
    families: tuple[str, ...] = ()

    @classmethod
    def of_run(cls, results: Mapping[str, Any]) -> "Settings":
        """The settings a run was audited with (its ``results.json`` ``config``)."""
        cfg = results.get("config") or {}
        fams = tuple(str(f) for f in cfg.get("perturbations") or () if str(f) in FAMILIES)
        return cls(seed=int(cfg.get("seed") or 0), skin_tone_config=cfg.get("skin_tone_config"),
                   scheme=str(cfg.get("skin_tone_scheme") or "chardon6"),
                   gradcam_layer=cfg.get("gradcam_layer"), families=fams)

    def offered_families(self) -> list[str]:
        return list(self.families) or families("clinical")


@dataclass
class Photo:
    """One photograph's answers.

    Attributes
    ----------
    name : str
        The file's name (as uploaded, or its path in a run).
    image : ndarray
        (H, W, 3) uint8 at the model's input size, as the audit decodes it.
    key : str
        The image's cache key (content hash and decode recipe).
    p : float
        Probability of the positive class.
    pred : str
        The predicted class at the model's threshold.
    classes : list of (str, float)
        A K-class model's most probable classes (empty for a binary model).
    tone : dict
        ``ita``, ``ita_iqr``, ``skin_fraction``, ``L``, ``b``, ``group``, ``fitzpatrick_est``
        (None when unknown).
    skin, lesion : ndarray
        (H, W) bool healthy-skin and lesion masks.
    heatmap : ndarray or None
        The clean heatmap on its native grid (None when the model cannot be explained).
    """

    name: str
    image: np.ndarray
    key: str
    p: float
    pred: str
    classes: list[tuple[str, float]]
    tone: dict[str, Any]
    skin: np.ndarray
    lesion: np.ndarray
    heatmap: np.ndarray | None
    _perturbed: PerturbedImages = field(repr=False, default=None)
    _variants: dict[str, "VariantAnswer"] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class VariantAnswer:
    """One perturbation of one photograph.

    Attributes
    ----------
    name : str
        ``family@severity``.
    image : ndarray
        The perturbed image.
    p, pred, flipped :
        Its probability, predicted class, and whether the class differs from the clean one.
    heatmap : ndarray or None
        Its heatmap (the positive class, as for the clean image).
    drift : dict
        Metric -> value between the clean and this heatmap (:data:`DRIFT_METRICS`; empty without
        heatmaps).
    achieved : dict
        ``dL``, ``da``, ``db``, ``dITA``, ``hf_loss``, ``area`` over the skin and lesion region.
    requested : dict
        The family's physical parameters at this severity.
    """

    name: str
    image: np.ndarray
    p: float
    pred: str
    flipped: bool
    heatmap: np.ndarray | None
    drift: dict[str, float]
    achieved: dict[str, float]
    requested: dict[str, Any]


class Explorer:
    """A model and its explainer, loaded once, answering one photograph at a time.

    Parameters
    ----------
    model : LoadedModel
        The model (loaded here, so that the first photograph does not wait for it).
    settings : Settings
        Seed, skin-tone settings and scheme, Grad-CAM layer, families (a run's or the defaults).
    """

    def __init__(self, model: LoadedModel, *, settings: Settings):
        from subgroups import load_config

        # Every model call runs on this one thread: a compiled TensorFlow function is traced
        # again in each new thread, and an app answers every interaction from a new one.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="explorer-model")
        self.model = self._on_worker(model.load)
        self.settings = settings
        self.skin_tone = load_config(settings.skin_tone_config, option="skin_tone_config")
        self._cache = ArrayCache(None)  # nothing written: predictions live in the Photo
        # A binary audit explains the positive class; a K-class one each image's clean top class.
        self._class_index = None if self.model.kclass else explained_class_index(self.model)
        self._cam = None
        self.explainer = "none"
        self.explainer_note = ""
        if self.model.supports_gradients:
            try:
                self._cam = self._on_worker(LazyGradCam, self.model, layer=settings.gradcam_layer,
                                            cache=self._cache)
                self.explainer = "grad-cam"
                self.explainer_note = f"Grad-CAM at layer {self._cam.layer_name}"
            except NotAvailable as exc:
                self.explainer_note = f"Grad-CAM not available: {exc}"
        if self._cam is None:
            self.explainer = "occlusion"
            self.explainer_note = (f"occlusion ({OCCLUSION_GRID} x {OCCLUSION_GRID} patches, each "
                                   "replaced by a blurred copy): the drop of p when a patch is "
                                   "hidden; the model has no gradients for Grad-CAM")

    @classmethod
    def open(cls, model: str, *, settings: Settings, model_spec: str | None = None,
             positive_class: str | None = None, trust: bool = False) -> "Explorer":
        """Open a model as ``harness run --model`` does (a missing file or sidecar field: UserError)."""
        return cls(open_model(model, spec_path=model_spec, positive_class=positive_class,
                              trust=trust), settings=settings)

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.model.spec.input_size)

    @property
    def positive_class(self) -> str:
        """The class whose probability ``p`` is ('' for a K-class model: each image's top class)."""
        return self.model.spec.positive_class or ""

    @property
    def kclass(self) -> bool:
        """True when the model is audited as K classes (``p`` is the top class's probability)."""
        return bool(self.model.kclass)

    @property
    def threshold(self) -> float:
        return float(self.model.spec.threshold)

    # -- one photograph -----------------------------------------------------------------------

    def photo(self, data: bytes, *, name: str, family: str | None = None) -> Photo:
        """Decode ``data`` as an audit does and answer it; with ``family``, every severity of
        that family too (in the same forward and Grad-CAM passes: one model call of each kind
        per interaction, then a slider move costs nothing).

        Raises
        ------
        UserError
            Too large (over :data:`MAX_UPLOAD_BYTES`), or not a usable image (``BadImage``:
            empty, truncated, corrupt, not an image, a decompression bomb); one line naming
            ``name``.
        """
        if len(data) > MAX_UPLOAD_BYTES:
            raise UserError(f"{name}: {len(data) / 1e6:.1f} MB is over the {MAX_UPLOAD_MB} MB "
                            "limit; give a smaller file")
        try:
            image, sha = decode_one_file(data, size=self.size)
        except UserError as exc:
            reason = getattr(exc, "reason", str(exc))
            raise UserError(f"{name}: {reason}; give a JPEG, PNG, TIFF, BMP, GIF or WebP "
                            "photograph") from None
        from subgroups import estimate_skin_tone

        batch = image[None]
        row = estimate_skin_tone(batch, settings=self.skin_tone, scheme=self.settings.scheme).iloc[0]
        masks = RegionMasks(batch, Timer(), skin_tone=self.skin_tone)
        perturbed = PerturbedImages(batch, [sha], masks, seed=self.settings.seed, timer=Timer())
        ladder = self._missing(None, family)
        images = np.concatenate([batch, *(perturbed(v) for v in ladder)])
        probs, preds = self._predict(images)
        heats = self._heatmaps(images, top=self._top_index(preds[0]))
        photo = Photo(name=name, image=image, key=image_key(sha, self.size), p=float(probs[0]),
                      pred=str(preds[0]),
                      classes=self._top_classes(batch),
                      tone={k: _plain(row[k]) for k in row.index}, skin=masks.skin()[0],
                      lesion=masks.lesion()[0], heatmap=None if heats is None else heats[0],
                      _perturbed=perturbed)
        self._keep(photo, ladder, images[1:], (probs[1:], preds[1:]),
                   None if heats is None else heats[1:])
        return photo

    def photo_file(self, path: str | Path, *, name: str | None = None,
                   family: str | None = None) -> Photo:
        """:meth:`photo` of a file on disk (an image of a run)."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UserError(f"{path}: cannot read it ({exc.strerror or type(exc).__name__}); "
                            "check that the run's data folder is still there") from None
        return self.photo(data, name=name or path.name, family=family)

    def variant(self, photo: Photo, family: str, severity: int) -> VariantAnswer:
        """``photo`` under one rung of the ladder (severity 0 is the clean image). The first
        request of a family answers all its severities at once; each is remembered in
        ``photo``, so moving the slider costs nothing."""
        v = Variant(family, int(severity))
        if v.severity == 0:
            self._keep(photo, [v], photo.image[None], (np.array([photo.p]), np.array([photo.pred])),
                       None if photo.heatmap is None else photo.heatmap[None])
        if v.name not in photo._variants:
            ladder = self._missing(photo, family)
            images = np.concatenate([photo._perturbed(u) for u in ladder])
            heats = self._heatmaps(images, top=self._top_index(photo.pred))
            self._keep(photo, ladder, images, self._predict(images), heats)
        return photo._variants[v.name]

    def _missing(self, photo: Photo | None, family: str | None) -> list[Variant]:
        """Severities 1-5 of ``family`` not yet answered for ``photo``."""
        if family is None:
            return []
        known = {} if photo is None else photo._variants
        return [v for v in (Variant(family, s) for s in range(1, 6)) if v.name not in known]

    def _keep(self, photo: Photo, ladder: list[Variant], images: np.ndarray,
              answers: tuple[np.ndarray, np.ndarray], heats: np.ndarray | None) -> None:
        """Record the answers of ``ladder`` (its images, ``(p, pred)`` and heatmaps) in ``photo``."""
        probs, preds = answers
        for i, v in enumerate(ladder):
            achieved = {k: float(vals[0]) for k, vals in photo._perturbed.achieved(v).items()}
            heat = None if heats is None else heats[i]
            moved: dict[str, float] = {}
            if heat is not None and photo.heatmap is not None:
                d = drift(photo.heatmap[None], heat[None], size=self.size[::-1])
                moved = {m: float(d[m][0]) for m in DRIFT_METRICS}
            photo._variants[v.name] = VariantAnswer(
                name=v.name, image=images[i], p=float(probs[i]), pred=str(preds[i]),
                flipped=str(preds[i]) != photo.pred, heatmap=heat, drift=moved,
                achieved=achieved, requested=v.requested)

    # -- helpers --------------------------------------------------------------------------------

    def _on_worker(self, fn, *args, **kwargs):
        return self._worker.submit(fn, *args, **kwargs).result()

    def _predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``p`` and ``pred`` as samples.csv has them: the positive class's probability and the
        class at the threshold, or for a K-class model the top class and its probability. The
        audit's prediction (what predict_cached calls; nothing cached here), the images of one
        interaction in one batch, not padded to the audit's 32."""
        if not self.kclass:
            p = self._on_worker(self.model.predict_proba, images, batch_size=len(images))
            return p, predicted_class(p, model=self.model)
        probs = self._on_worker(self.model.predict_class_probabilities, images,
                                batch_size=len(images))
        top = top_class_index(probs)
        names = np.asarray(self.model.spec.class_names, dtype=object)
        return explained_class_probability(probs, top), names[top]

    def _top_index(self, clean_pred: str) -> int | None:
        """The class a K-class model's heatmaps explain: the clean image's top class, given as
        its ``pred`` (None for a binary model, which explains its positive class)."""
        if not self.kclass:
            return None
        return list(self.model.spec.class_names).index(clean_pred)

    def _top_classes(self, batch: np.ndarray) -> list[tuple[str, float]]:
        names = list(self.model.spec.class_names)
        if len(names) <= 2:
            return []
        probs = self._on_worker(self.model.predict_class_probabilities, batch, batch_size=1)[0]
        order = np.argsort(-probs, kind="stable")[:TOP_CLASSES]
        return [(names[i], float(probs[i])) for i in order]

    def _heatmaps(self, images: np.ndarray, *, top: int | None) -> np.ndarray | None:
        """Heatmaps as the Grad-CAM stage makes them (None: no explainer): of the positive class,
        or for a K-class model of class ``top`` (the clean image's top class) on every image."""
        index = self._class_index if top is None else top
        if self._cam is not None:
            return self._on_worker(lambda: self._cam.get().heatmaps(
                images, class_index=index, batch_size=len(images)))
        if self.explainer == "occlusion":
            predict = self.model.predict_class_probabilities if self.kclass else self.model.predict_proba
            occlusion = Occlusion(predict, grid=OCCLUSION_GRID)
            passes = occlusion.passes_per_image(*self.size[::-1])
            return self._on_worker(occlusion.heatmaps, images,
                                   class_index=index if self.kclass else 1, batch_size=passes)
        return None


def _plain(value: Any) -> Any:
    """A table cell as a plain Python value (None for missing)."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    return value
