"""The skin-tone settings as plain data: the mask's parameters and everything else
``configs/skin_tone.yaml`` holds (the ``unknown`` rule, the fitted ITA cut points and Fitzpatrick
estimator).

Nothing here reads a file: ``subgroups.config`` parses the YAML into a :class:`SkinToneConfig`,
``harness.config.AuditConfig`` carries it, and every public function of ``subgroups`` that needs
it takes it as its ``settings`` keyword.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields

from subgroups.ordinal import OrdinalModel

__all__ = ["MASK_ALGORITHM", "MaskParams", "SkinToneConfig", "mask_version"]

#: Names the mask algorithm; with the parameters it makes :func:`mask_version`. Version 3: the
#: mask reads the exact CIELAB of ``subgroups.lab`` (version 2 read OpenCV's 8-bit codes).
MASK_ALGORITHM = "skinmask-3"


@dataclass(frozen=True)
class MaskParams:
    """Parameters of the healthy-skin mask (units: L*, a*, b* and degrees; pixels at 224 px)."""

    border: float = 0.03          # fraction of the shorter side dropped on every edge
    L_min: float = 12.0
    L_max: float = 92.0
    chroma_min: float = 5.0
    hue_min: float = -15.0        # degrees in (-180, 180]; pale pink skin reaches just below 0
    hue_max: float = 95.0
    lesion_hue_min: float = -35.0  # erythema, violaceous included; bluer hues (walls, drapes) never
    tophat_size: float = 0.03     # structuring element, fraction of the shorter side (odd px)
    white_tophat: float = 6.0     # L* above the local opening: a bright stroke
    black_tophat: float = 10.0    # L* below the local closing: hair, marks, deep creases
    texture_fallback: float = 0.02    # when fewer candidates survive the fixed top-hat thresholds,
    texture_percentile: float = 85.0  # ... they rise to this percentile of the image's top-hats
    text_window: float = 0.04     # window (fraction of the shorter side) for stroke density
    text_density: float = 0.2     # share of bright strokes in the window that makes it text
    white_L: float = 85.0         # L* above which a nearly colourless pixel is paper/logo/glare
    white_chroma: float = 10.0
    halo: float = 0.012           # dilation of text and white regions, fraction of shorter side
    ref_percentile: float = 30.0  # percentile of a* over the candidates taken as healthy skin a*
    red_min: float = 4.0          # erythema: a* above the reference by at least this ...
    red_k: float = 3.0            # ... and by at least red_k robust sigmas of healthy a*
    dark_delta: float = 18.0      # L* below the candidates' median dropped (shadow, pigment)
    bright_delta: float = 18.0    # L* above the candidates' median dropped (glare)
    open_size: int = 3            # morphological opening of the final mask (px, odd; 1 = none)

    @classmethod
    def from_dict(cls, values: dict | None) -> MaskParams:
        """Parameters from a mapping (e.g. the ``mask`` section of ``configs/skin_tone.yaml``)."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown mask parameter(s) {unknown!r}; known: {sorted(known)}")
        return cls(**values)


@dataclass(frozen=True)
class SkinToneConfig:
    """Parsed ``skin_tone.yaml``."""

    mask: MaskParams
    min_skin_fraction: float          # below this share of healthy skin: unknown
    max_ita_iqr: float                # above this spread of ITA across the skin: unknown
    ita_cuts: tuple[float, ...]       # ITA cut points I|II, II|III, ... (decreasing)
    ita_cuts_source: str
    model: OrdinalModel | None        # Fitzpatrick estimator over colour statistics
    raw: dict = field(repr=False, compare=False, default_factory=dict)
    source: str = field(compare=False, default="")  # the file it was read from, for messages


def mask_version(params: MaskParams) -> str:
    """Names the masks ``params`` make (algorithm and parameters), e.g. for cache keys."""
    text = json.dumps(asdict(params), sort_keys=True)
    return f"{MASK_ALGORITHM}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
