"""The fitted skin-tone settings in ``configs/skin_tone.yaml``: mask parameters, the ITA cut points
of the ``fitzpatrick`` scheme, the Fitzpatrick estimator's coefficients, and the ``unknown`` rule.

The file is read with ``yaml.safe_load`` from the ``configs`` package (or from a path given to
``load_config``); ``subgroups.calibrate`` writes it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from harness.errors import UserError
from subgroups.mask import MaskParams
from subgroups.ordinal import OrdinalModel

__all__ = ["CONFIG_NAME", "SkinToneConfig", "load_config", "parse_config"]

CONFIG_NAME = "skin_tone.yaml"


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


def parse_config(data: dict, *, where: str = CONFIG_NAME) -> SkinToneConfig:
    """Validate the parsed YAML mapping of a skin-tone config."""
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        mask = MaskParams.from_dict(data.get("mask"))
        unknown = data.get("unknown") or {}
        cuts = tuple(float(c) for c in data["ita_cuts"]["cuts"])
        source = str(data["ita_cuts"].get("source", ""))
        model = data.get("fitzpatrick_model")
        model = OrdinalModel.from_dict(model) if model else None
        cfg = SkinToneConfig(
            mask=mask,
            min_skin_fraction=float(unknown.get("min_skin_fraction", 0.02)),
            max_ita_iqr=float(unknown.get("max_ita_iqr", 45.0)),
            ita_cuts=cuts,
            ita_cuts_source=source,
            model=model,
            raw=data,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{where}: invalid skin-tone config ({exc}); regenerate it with "
                        f"python -m subgroups.calibrate") from exc
    if len(cfg.ita_cuts) != 5 or any(b >= a for a, b in zip(cfg.ita_cuts, cfg.ita_cuts[1:])):
        raise UserError(f"{where}: ita_cuts.cuts must be 5 decreasing angles (got {cfg.ita_cuts!r})")
    return cfg


@functools.lru_cache(maxsize=8)
def _load(path: str | None) -> SkinToneConfig:
    if path is None:
        text = resources.files("configs").joinpath(CONFIG_NAME).read_text(encoding="utf-8")
        where = f"configs/{CONFIG_NAME}"
    else:
        p = Path(path)
        if not p.is_file():
            raise UserError(f"{p}: skin-tone config not found; pass an existing YAML file")
        text, where = p.read_text(encoding="utf-8"), str(p)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    return parse_config(data, where=where)


def load_config(path: str | Path | None = None) -> SkinToneConfig:
    """The skin-tone config: the packaged ``configs/skin_tone.yaml`` by default (cached)."""
    return _load(None if path is None else str(Path(path).resolve()))
