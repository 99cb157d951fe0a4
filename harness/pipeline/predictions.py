"""The predictions an audit made: the model on the clean images and on every variant of the
ladder (made a chunk at a time by ``chunks``; cached, so a second audit of the same model and
images runs nothing)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np



@dataclass(frozen=True)
class Predictions:
    """Positive-class probabilities per variant, and the ladder's record.

    Attributes
    ----------
    p : dict
        ``"clean"`` and every variant name (``"blur@3"``) -> (N,) float64, in ladder order: the
        probability of the positive class, or for a K-class model that of the top class.
    variants : list of dict
        One entry of ``results["perturbations"]["variants"]`` per variant (requested and
        achieved).
    class_probs : dict or None
        For a K-class model (``model.kclass``): the same names -> (N, K) probabilities of every
        class in ``spec.class_names`` order; None otherwise.
    """

    p: dict[str, np.ndarray]
    variants: list[dict[str, Any]]
    class_probs: dict[str, np.ndarray] | None = None
