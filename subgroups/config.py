"""Reading the skin-tone settings: ``configs/skin_tone.yaml`` (or a file of the same shape) ->
:class:`~subgroups.settings.SkinToneConfig`.

The file is read by ``harness.yaml_file.read_yaml`` (safe loading within size limits) and
validated here; ``subgroups.calibrate`` writes it. An audit reads it once, when its
``harness.config.AuditConfig`` is built, and hands the parsed settings to every function that
needs them; nothing in ``subgroups`` reads it on its own.
"""
from __future__ import annotations

from pathlib import Path

from harness.errors import UserError
from harness.yaml_file import read_yaml
from subgroups.ordinal import OrdinalModel
from subgroups.settings import MaskParams, SkinToneConfig

__all__ = ["CONFIG_NAME", "load_config", "parse_config"]

CONFIG_NAME = "skin_tone.yaml"


def parse_config(data: dict, *, where: str = CONFIG_NAME) -> SkinToneConfig:
    """Validate the parsed YAML mapping of a skin-tone config (``where`` names it in errors)."""
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
            source=where,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{where}: invalid skin-tone config ({exc}); regenerate it with "
                        f"python -m subgroups.calibrate") from exc
    if len(cfg.ita_cuts) != 5 or any(b >= a for a, b in zip(cfg.ita_cuts, cfg.ita_cuts[1:])):
        raise UserError(f"{where}: ita_cuts.cuts must be 5 decreasing angles (got {cfg.ita_cuts!r})")
    return cfg


def load_config(path: str | Path | None = None, *, option: str | None = None) -> SkinToneConfig:
    """Read and validate skin-tone settings: the packaged ``configs/skin_tone.yaml`` when ``path``
    is None.

    Parameters
    ----------
    path : a YAML file of the shape ``subgroups.calibrate`` writes, or None.
    option : the option or config key that named ``path``, for messages (e.g.
        ``"skin_tone_config"``).

    Raises
    ------
    UserError
        One line naming the file: missing, not YAML, over the reader's limits, or invalid.
    """
    data, where = read_yaml(path, packaged=CONFIG_NAME, what="skin-tone config", option=option,
                            hint="give a YAML file written by python -m subgroups.calibrate, or "
                                 "leave it out for the packaged configs/skin_tone.yaml")
    return parse_config(data, where=where)
