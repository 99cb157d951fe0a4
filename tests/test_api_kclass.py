"""The notebook accessors of a K-class audit: per-class metrics and confusion matrices as
DataFrames, equal to scikit-learn on the run's own samples.csv."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix, precision_score, recall_score

import harness
from harness.errors import UserError


def _groups(samples: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    return [("overall", samples)] + [(str(g), part) for g, part in samples.groupby("fitzpatrick")]


def test_class_metrics_and_confusion_matrices_equal_sklearn(kclass_runs):
    audit = harness.load_run(kclass_runs["sharp"])
    names = kclass_runs["class_names"]
    table = audit.class_metrics("fitzpatrick")
    assert list(table.index.names) == ["fitzpatrick", "class"]
    assert list(table.index.get_level_values("class")[:3]) == names
    for row, part in _groups(audit.samples):
        recall = recall_score(part["label"], part["pred"], labels=names, average=None)
        precision = precision_score(part["label"], part["pred"], labels=names, average=None,
                                    zero_division=np.nan)
        for k, name in enumerate(names):
            cell = table.loc[(row, name)]
            assert cell["recall"] == pytest.approx(recall[k], abs=1e-12)
            assert cell["precision"] == pytest.approx(precision[k], abs=1e-12)
            assert cell["support"] == int((part["label"] == name).sum())
            assert cell["recall_ci_low"] <= cell["recall"] <= cell["recall_ci_high"]
        matrix = audit.confusion_matrix("fitzpatrick", group=row)
        assert list(matrix.index) == list(matrix.columns) == names
        np.testing.assert_array_equal(
            matrix.to_numpy(), confusion_matrix(part["label"], part["pred"], labels=names))
    # a perturbed variant's matrix is that of its own top class
    blurred = audit.confusion_matrix("fitzpatrick", "blur@1")
    np.testing.assert_array_equal(
        blurred.to_numpy(),
        confusion_matrix(audit.samples["label"], audit.samples["pred[blur@1]"], labels=names))


def test_bad_requests_name_the_argument(kclass_runs, dermnet_small_run):
    audit = harness.load_run(kclass_runs["sharp"])
    with pytest.raises(UserError, match="group='9'"):
        audit.confusion_matrix("fitzpatrick", group="9")
    binary = harness.load_run(dermnet_small_run)
    with pytest.raises(UserError, match="binary audit"):
        binary.class_metrics()
    # a binary audit's matrix: negative class first, rows true, columns predicted
    matrix = binary.confusion_matrix()
    s = binary.samples
    assert list(matrix.index) == ["atopic_dermatitis", "eczema"]
    np.testing.assert_array_equal(
        matrix.to_numpy(),
        confusion_matrix(s["label"], s["pred"], labels=["atopic_dermatitis", "eczema"]))
