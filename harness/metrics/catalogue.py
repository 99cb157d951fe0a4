"""The metric catalogue: every metric name the project uses, and what it means.

One record per name: how it is shown (``display``), what sort of number it is (``kind``), which way
is better (``higher_is_better``), what its n counts (``denominator``), when it is undefined
(``undefined_when``, the rule) and the reason written beside an undefined value
(``undefined_reason``). ``where`` says which part of ``results.json`` holds it: ``"cell"`` (the
metrics of a cell), ``"class"`` (the per-class metrics of a K-class cell, ``classes.<name>``),
``"flip"`` (flip statistics of a robustness cell), ``"drop"`` (clean − variant
in a robustness cell), ``"gap"`` (between-group statistics of ``gaps``) or ``"drift"`` (Grad-CAM
drift medians). ``audits`` says which audits compute it: ``"binary"`` (one positive class, a
threshold) and/or ``"kclass"`` (K > 2 classes and no positive class: the top class is the
prediction); a metric both compute has the K-class rule for an undefined value in ``kclass_rule``
when it differs. The metric kernels (``harness.metrics.rates``), the gate files, ``compare`` and the
report read their names, directions and labels from here.

Plain Python only: ``harness gate`` reads it without numpy, pandas or fairlearn.
"""
from __future__ import annotations

from dataclasses import dataclass

#: What a metric is: a proportion of a count (``rate``), a score of the predictions (``score``),
#: a calibration error, robustness against the clean images, a gap between groups, Grad-CAM drift.
KINDS: tuple[str, ...] = ("rate", "score", "calibration", "robustness", "gap", "drift")
#: Where ``results.json`` holds a metric (the gates read it from there).
PLACES: tuple[str, ...] = ("cell", "class", "flip", "drop", "gap", "drift")
#: The audits a metric can belong to.
AUDITS: tuple[str, ...] = ("binary", "kclass")
#: What a denominator counts, in words (``n = images``).
DENOMINATORS: dict[str, str] = {
    "n": "images",
    "positives": "positives",
    "negatives": "negatives",
    "predicted_positives": "predicted positives",
    "predicted_negatives": "predicted negatives",
    "gap_groups": "groups compared",
    "explained_images": "images with Grad-CAM heatmaps",
    "support": "images of the class",
    "predicted": "images predicted as the class",
}


@dataclass(frozen=True)
class Metric:
    """One metric of the catalogue.

    ``source`` is where the value sits inside its place when the gate name differs from the key:
    ``(base metric, "absolute" | "relative")`` for a drop, the sub-key of
    ``gaps.equalized_odds_difference`` for its parts (None: the entry itself), the name in
    ``harness.explain.attention.DRIFT_METRICS`` for drift.
    """

    name: str
    display: str
    kind: str
    where: str
    higher_is_better: bool
    denominator: str
    undefined_when: str
    undefined_reason: str
    description: str = ""
    source: str | tuple[str, str] | None = None
    audits: tuple[str, ...] = ("binary",)
    kclass_rule: tuple[str, str] | None = None

    def info(self, audit: str = "binary") -> dict:
        """``{"higher_is_better", "denominator", "undefined_when"}``: the metric's entry in
        ``metrics.settings.metric_info`` of ``results.json`` (``audit="kclass"``: its K-class rule)."""
        when = self.undefined_when
        if audit == "kclass" and self.kclass_rule is not None:
            when = self.kclass_rule[0]
        return {"higher_is_better": self.higher_is_better, "denominator": self.denominator,
                "undefined_when": when}

    def reason(self, audit: str = "binary") -> str:
        """The reason written beside an undefined value (``audit="kclass"``: its K-class one)."""
        if audit == "kclass" and self.kclass_rule is not None:
            return self.kclass_rule[1]
        return self.undefined_reason


def _cell(name, display, kind, higher, denominator, when, reason, description="", *,
          audits=("binary",), kclass_rule=None):
    return Metric(name=name, display=display, kind=kind, where="cell", higher_is_better=higher,
                  denominator=denominator, undefined_when=when, undefined_reason=reason,
                  description=description, audits=audits, kclass_rule=kclass_rule)


def _class(key, display, kind, denominator, reason, description):
    return Metric(name=f"class_{key}", display=display, kind=kind, where="class",
                  higher_is_better=True, denominator=denominator, undefined_when=reason,
                  undefined_reason=reason, description=description, source=key,
                  audits=("kclass",))


_BOTH = ("binary", "kclass")


def _flip(name, display, higher, description):
    return Metric(name=name, display=display, kind="robustness", where="flip",
                  higher_is_better=higher, denominator="n", undefined_when="n = 0",
                  undefined_reason="no images", description=description, audits=_BOTH)


def _drop(base, display, which):
    why = f"{base} undefined on clean or variant"
    if which == "relative":
        why += ", or 0 on clean"
    suffix = "_drop" if which == "absolute" else "_relative_drop"
    description = ("clean − variant (positive = worse)" if which == "absolute"
                   else "(clean − variant) / clean")
    return Metric(name=f"{base}{suffix}", display=display, kind="robustness", where="drop",
                  higher_is_better=False, denominator="n", undefined_when=why,
                  undefined_reason=why, description=description, source=(base, which),
                  audits=_BOTH)


def _gap(name, display, sub, reason, description):
    return Metric(name=name, display=display, kind="gap", where="gap", higher_is_better=False,
                  denominator="gap_groups",
                  undefined_when=f"fewer than 2 groups to compare, or {reason}",
                  undefined_reason=reason, description=description, source=sub)


def _drift(source, display, higher):
    return Metric(name=f"drift_{source}", display=display, kind="drift", where="drift",
                  higher_is_better=higher, denominator="explained_images",
                  undefined_when="no image in the split, or every heatmap of it all zero",
                  undefined_reason="no images, or heatmaps all zero",
                  description=("similarity of the clean and perturbed heatmaps, 1 = unchanged"
                               if higher else "distance between the heatmaps, 0 = unchanged"),
                  source=source, audits=_BOTH)


_ALL: tuple[Metric, ...] = (
    # -- the metrics of a cell, in the order used everywhere ---------------------------------
    _cell("accuracy", "Accuracy", "rate", True, "n", "n = 0", "no images", audits=_BOTH),
    _cell("balanced_accuracy", "Balanced accuracy", "score", True, "n",
          "sensitivity or specificity undefined", "no positives or no negatives",
          "mean of sensitivity and specificity (K classes: the mean recall, macro-averaged)",
          audits=_BOTH, kclass_rule=("n = 0 (the mean recall over the classes present)",
                                     "no images")),
    _cell("sensitivity", "Sensitivity", "rate", True, "positives", "no positives", "no positives",
          "true positive rate"),
    _cell("specificity", "Specificity", "rate", True, "negatives", "no negatives", "no negatives",
          "true negative rate"),
    _cell("precision", "PPV", "rate", True, "predicted_positives", "no predicted positives",
          "no predicted positives", "positive predictive value (precision)"),
    _cell("npv", "NPV", "rate", True, "predicted_negatives", "no predicted negatives",
          "no predicted negatives", "negative predictive value"),
    _cell("f1", "F1", "score", True, "n",
          "no positives and no predicted positives "
          "(2tp/(2tp+fp+fn); 0 when positives exist but none is predicted)",
          "no positives and no predicted positives", "F1 of the positive class"),
    _cell("f1_negative", "F1 (negative class)", "score", True, "n",
          "no negatives and no predicted negatives", "no negatives and no predicted negatives",
          "F1 of the negative class"),
    _cell("macro_f1", "Macro-F1", "score", True, "n", "f1 or f1_negative undefined",
          "f1 of a class undefined", "mean F1 of both classes (K classes: of every class)",
          audits=_BOTH, kclass_rule=("n = 0 (the mean F1 over the classes among the true or "
                                     "predicted labels)", "no images")),
    _cell("roc_auc", "ROC AUC", "score", True, "n", "no positives or no negatives (ties count 1/2)",
          "needs both positives and negatives",
          "area under the ROC curve (K classes: one-vs-rest, macro-averaged)", audits=_BOTH,
          kclass_rule=("no class with images both of it and of others (the mean one-vs-rest AUC "
                       "over the classes that have both; ties count 1/2)",
                       "needs images of at least two classes")),
    _cell("brier", "Brier", "calibration", False, "n", "n = 0", "no images",
          "mean squared error of p"),
    _cell("ece", "ECE", "calibration", False, "n", "n = 0", "no images",
          "expected calibration error, 10 bins"),
    # -- the metrics of a K-class cell only --------------------------------------------------
    _cell("weighted_f1", "Weighted F1", "score", True, "n", "n = 0", "no images",
          "F1 of each class weighted by its number of images", audits=("kclass",)),
    _cell("top_k_accuracy", "Top-3 accuracy", "rate", True, "n", "n = 0", "no images",
          "share of images whose true class is among the 3 most probable (K > 3 only)",
          audits=("kclass",)),
    _cell("multiclass_brier", "Brier (multi-class)", "calibration", False, "n", "n = 0",
          "no images", "mean over images of the squared error summed over classes (0 to 2)",
          audits=("kclass",)),
    _cell("top_label_ece", "Top-label ECE", "calibration", False, "n", "n = 0", "no images",
          "expected calibration error of the top probability, 10 bins", audits=("kclass",)),
    # -- the per-class metrics of a K-class cell (classes.<name>) ----------------------------
    _class("recall", "Recall", "rate", "support", "no images of the class",
           "share of the class's images predicted as it"),
    _class("precision", "Precision", "rate", "predicted", "no image predicted as the class",
           "share of the images predicted as the class that are of it"),
    _class("f1", "F1 (class)", "score", "n", "no image of the class and none predicted as it",
           "F1 of the class against the rest"),
    _class("roc_auc", "One-vs-rest AUC", "score", "n",
           "no image of the class, or every image of it",
           "area under the ROC curve of the class's probability, the class against the rest"),
    # -- a perturbed variant against the clean images ----------------------------------------
    _flip("flip_rate", "Flip rate", False,
          "share of the cell's images whose prediction (K classes: top class) changed"),
    _flip("right_to_wrong", "Right→wrong", False,
          "share of the cell's images correct on clean, wrong on the variant"),
    _flip("wrong_to_right", "Wrong→right", True,
          "share of the cell's images wrong on clean, correct on the variant"),
    _flip("mean_abs_delta_p", "Mean |Δp|", False,
          "mean |p_variant − p_clean| (K classes: the probability of the true class)"),
    _drop("balanced_accuracy", "Balanced-accuracy drop", "absolute"),
    _drop("balanced_accuracy", "Relative balanced-accuracy drop", "relative"),
    _drop("roc_auc", "AUC drop", "absolute"),
    _drop("roc_auc", "Relative AUC drop", "relative"),
    # -- between groups, with no per-group value ---------------------------------------------
    _gap("equalized_odds_difference", "Equalized-odds difference", None, "TPR or FPR undefined",
         "max of the TPR and FPR differences between groups"),
    _gap("tpr_difference", "TPR difference", "tpr_difference", "TPR undefined",
         "max − min true positive rate over groups"),
    _gap("fpr_difference", "FPR difference", "fpr_difference", "FPR undefined",
         "max − min false positive rate over groups"),
    # -- Grad-CAM drift between clean and perturbed heatmaps (medians) -----------------------
    _drift("spearman", "Drift (Spearman)", True),
    _drift("cosine", "Drift (cosine)", True),
    _drift("ssim", "Drift (SSIM)", True),
    _drift("iou_top10", "Drift (IoU of the top 10%)", True),
    _drift("iou_top20", "Drift (IoU of the top 20%)", True),
    _drift("centroid_shift", "Drift (centroid shift)", False),
)

#: Every metric by name, in catalogue order (cell, flip, drop, gap, drift).
CATALOGUE: dict[str, Metric] = {m.name: m for m in _ALL}


def names(*, where: str | None = None, kind: str | None = None,
          audit: str | None = None) -> tuple[str, ...]:
    """Metric names in catalogue order, optionally only those of one place, kind and/or audit.

    Parameters
    ----------
    where : one of :data:`PLACES`, or None for every place.
    kind : one of :data:`KINDS`, or None for every kind.
    audit : one of :data:`AUDITS` (the metrics that audit computes), or None for every audit.

    Returns
    -------
    tuple of str
    """
    if where is not None and where not in PLACES:
        raise ValueError(f"where must be one of {PLACES} (got {where!r})")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} (got {kind!r})")
    if audit is not None and audit not in AUDITS:
        raise ValueError(f"audit must be one of {AUDITS} (got {audit!r})")
    return tuple(m.name for m in _ALL
                 if (where is None or m.where == where) and (kind is None or m.kind == kind)
                 and (audit is None or audit in m.audits))


def display_name(name: str) -> str:
    """How the report names a metric: its ``display``, or the name with spaces for one not listed."""
    m = CATALOGUE.get(name)
    return m.display if m is not None else name.replace("_", " ")


#: The metrics of a binary audit's cell; between-group gaps (``gaps.metrics``) are computed for
#: every one of them.
CELL_METRICS: tuple[str, ...] = names(where="cell", audit="binary")
#: The metrics of a K-class audit's cell (``top_k_accuracy`` only where K > 3), gaps for each.
KCLASS_CELL_METRICS: tuple[str, ...] = names(where="cell", audit="kclass")
#: The per-class metrics of a K-class cell: catalogue name -> key in ``classes.<name>``.
CLASS_METRICS: dict[str, str] = {m: CATALOGUE[m].source for m in names(where="class")}
#: Between-group statistics with no per-group value (``gaps.equalized_odds_difference`` and its
#: parts): a gate on one must have scope ``group_gap``.
BETWEEN_GROUP_STATISTICS: tuple[str, ...] = names(where="gap")
#: The cell metrics whose between-group gap the report's performance section shows.
REPORT_GAP_METRICS: tuple[str, ...] = ("balanced_accuracy", "sensitivity", "specificity",
                                       "roc_auc", "precision", "macro_f1", "ece")
#: The headline metrics: the report's summary cards and gap table, ``compare``'s summary lines.
HEADLINE_METRICS: tuple[str, ...] = ("balanced_accuracy", "sensitivity", "specificity", "roc_auc")
