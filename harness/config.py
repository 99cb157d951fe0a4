"""One validated configuration object for an audit.

Configuration flows down from here: the CLI builds an :class:`AuditConfig` from a YAML file
(``--config``, read by ``harness.yaml_file``) and its own options, validates it once, and hands it
to the pipeline. The skin-tone settings file it names (``skin_tone_config``) is read and validated
once, when the config is built, and travels with it as ``skin_tone``. No other module reads
options, files or environment variables on its own.
"""
from __future__ import annotations

import dataclasses
import numbers
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import UserError
from harness.yaml_file import read_yaml

if TYPE_CHECKING:
    from subgroups.settings import SkinToneConfig

DEFAULT_CONFIG = "default.yaml"


@dataclass(frozen=True)
class AuditConfig:
    """Everything one audit needs to know.

    Attributes
    ----------
    model : str
        Model file or folder (``.keras``, ``.h5``, SavedModel, ``.tflite``) or ``module:function``.
    data : str
        A folder of class subfolders, a folder of images, or a CSV manifest.
    out : Path
        Run directory; created when missing.
    cache_dir : Path or None
        On-disk cache of predictions and heatmaps; None disables caching.
    perturbations : tuple of str
        Perturbation family names (empty for none).
    severities : tuple of int
        Severities 1-5 applied to every family.
    gradcam : str
        ``"auto"``, ``"all"``, ``"none"`` or a number of images.
    skin_tone_config : str or None
        The skin-tone settings file (the shape ``python -m subgroups.calibrate`` writes); None for
        the packaged ``configs/skin_tone.yaml``.
    skin_tone : SkinToneConfig
        Those settings, read and validated once when the config is built (not part of
        :meth:`to_json`; ``skin_tone_config`` is).
    chunk_size, workers, engine, ray_address
        How the audit is run (images per chunk, CPU worker threads, ``local`` or ``ray``, the Ray
        cluster): they change where and how fast, never what is found, so they are not part of
        :meth:`to_json` (results.json's ``engine`` section records them).
    """

    model: str
    data: str
    out: Path
    cache_dir: Path | None = None
    model_spec: str | None = None
    positive_class: str | None = None
    trust_model: bool = False
    seed: int = 0
    batch_size: int = 32
    perturbations: tuple[str, ...] = ()
    severities: tuple[int, ...] = (1, 2, 3, 4, 5)
    gradcam: str = "auto"
    gradcam_layer: str | None = None
    skin_tone_scheme: str = "chardon6"
    label_groupings: tuple[str, ...] | None = None
    n_boot: int = 1000
    min_group_n: int = 30
    min_group_per_class: int = 10
    target_sensitivity: float = 0.90
    gates: str | None = None
    strict: bool = False
    data_root: str | None = None
    thumbnails: bool = True
    attention_regions: dict | None = None
    skin_tone_config: str | None = None
    chunk_size: int = 32
    workers: int = 2
    engine: str = "local"
    ray_address: str | None = None
    skin_tone: SkinToneConfig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from subgroups.config import load_config

        object.__setattr__(self, "skin_tone", load_config(self.skin_tone_config, option="skin_tone_config"))

    def to_json(self) -> dict[str, Any]:
        """The configuration as it goes into ``results.json`` (plain JSON types)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        # The cache location and the output folder do not change what an audit finds.
        out.pop("cache_dir", None)
        out.pop("out", None)
        out.pop("skin_tone", None)  # parsed settings; their file is skin_tone_config
        for key in RUN_ONLY:  # how the audit ran, not what it audits
            out.pop(key, None)
        return out


#: Options that say how an audit runs, not what it audits (left out of results.json's config).
RUN_ONLY = ("chunk_size", "workers", "engine", "ray_address")
#: The engines ``--engine`` accepts.
ENGINES = ("local", "ray")

# Keys a YAML config may set, with the type each must have.
_YAML_KEYS: dict[str, type | tuple[type, ...]] = {
    "perturbations": (list, str),
    "severities": (list, str, int),
    "gradcam": (str, int),
    "gradcam_layer": str,
    "skin_tone_scheme": str,
    "label_groupings": list,
    "n_boot": int,
    "min_group_n": int,
    "min_group_per_class": int,
    "target_sensitivity": float,
    "batch_size": int,
    "seed": int,
    "positive_class": str,
    "thumbnails": bool,
    "attention_regions": dict,
    "skin_tone_config": str,
}


def read_config_file(path: str | Path | None) -> dict[str, Any]:
    """Read a YAML audit config (the packaged default when ``path`` is None).

    Raises
    ------
    UserError
        When the file is missing, is not YAML (or over the reader's limits), or sets an unknown key
        or a value of the wrong type.
    """
    return _read_config(path)[0]


def _read_config(path: str | Path | None) -> tuple[dict[str, Any], str]:
    """``read_config_file`` and the file's name for messages."""
    data, where = read_yaml(path, packaged=DEFAULT_CONFIG, what="audit config", option="--config",
                            hint="give the path of a YAML audit config")
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a mapping of option: value, got {type(data).__name__}")
    for key, value in data.items():
        if key not in _YAML_KEYS:
            valid = ", ".join(sorted(_YAML_KEYS))
            raise UserError(f"{where}: unknown option {key!r}; valid options: {valid}")
        expected = _YAML_KEYS[key]
        if value is not None and not isinstance(value, expected):
            if expected is float and isinstance(value, int):
                continue
            names = expected.__name__ if isinstance(expected, type) else "/".join(t.__name__ for t in expected)
            raise UserError(f"{where}: option {key!r} must be {names}, got {value!r}")
    return data, where


def parse_list(value: str | list | tuple | None, *, option: str) -> tuple[str, ...]:
    """``"a,b"`` or ``["a", "b"]`` -> ``("a", "b")``; ``"none"`` or empty -> ``()``."""
    if value is None:
        return ()
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    else:
        raise UserError(f"{option}: expected a comma-separated list, got {value!r}")
    items = [v for v in items if v]
    if items == ["none"]:
        return ()
    if "none" in items:
        raise UserError(f"{option}: 'none' cannot be combined with other names (got {value!r})")
    return tuple(items)


def parse_severities(value: str | list | int | None, *, option: str = "--severities") -> tuple[int, ...]:
    """``"1,2,3"`` or ``[1, 2, 3]`` -> ``(1, 2, 3)``, each in 1..5, sorted and unique."""
    if value is None:
        return (1, 2, 3, 4, 5)
    if isinstance(value, int):
        value = [value]
    out = []
    for item in parse_list(value, option=option):
        try:
            sev = int(item)
        except ValueError:
            raise UserError(f"{option}: severities are whole numbers 1-5, got {item!r}") from None
        if not 1 <= sev <= 5:
            raise UserError(f"{option}: severities are whole numbers 1-5, got {sev}")
        out.append(sev)
    return tuple(sorted(set(out)))


def parse_gradcam(value: str | int | None, *, option: str = "--gradcam") -> str:
    """``auto``, ``all``, ``none`` or a positive number of images."""
    if value is None:
        return "auto"
    text = str(value).strip().lower()
    if text in {"auto", "all", "none"}:
        return text
    if text.isdigit() and int(text) > 0:
        return text
    raise UserError(f"{option}: expected all, none, auto or a number of images, got {value!r}")


#: Attention shares every Grad-CAM section has (harness.explain.attention); a user region may not take
#: these names nor end in ``_area`` (each share's area is reported under ``<name>_area``).
BUILTIN_SHARES: tuple[str, ...] = ("lesion", "skin", "background")


def clashes_with_builtin_share(name) -> bool:
    return str(name) in BUILTIN_SHARES or str(name).endswith("_area")


def default_cache_dir() -> Path:
    """The per-user cache folder, with a writable fallback (as Keras' cache does):
    ``$XDG_CACHE_HOME/dermatrace`` (default ``~/.cache/dermatrace``), else a folder in the
    temporary directory. The one place the default cache folder is decided."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    for candidate in (Path(base) / "dermatrace", Path(tempfile.gettempdir()) / "dermatrace-cache"):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            if os.access(candidate, os.W_OK):
                return candidate
        except OSError:
            continue
    return Path(tempfile.mkdtemp(prefix="dermatrace-cache-"))


def cache_dir_option(value: str | Path | None) -> Path | None:
    """``--cache``: None (not given) -> :func:`default_cache_dir`; ``"none"`` -> None (no
    cache); anything else -> that folder."""
    if value is None:
        return default_cache_dir()
    if str(value).strip().lower() == "none":
        return None
    return Path(value)


def check_seed(seed, *, option: str = "--seed") -> None:
    """A seed is a whole number of 0 or more (NumPy's generators refuse negatives)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UserError(f"{option}: must be a whole number of 0 or more, got {seed!r}")


#: What the metrics accept for each audit option they take (``harness.metrics.audit``'s own
#: rules, checked here when the config is built so that a bad value stops before any work):
#: key -> (valid?, what it must be).
_RANGES = {
    "n_boot": (lambda v: v >= 1, "a whole number of at least 1 (the bootstrap resamples of "
                                 "every interval)"),
    "min_group_n": (lambda v: v >= 1, "a whole number of at least 1"),
    "min_group_per_class": (lambda v: v >= 0, "a whole number of 0 or more"),
    "target_sensitivity": (lambda v: 0.0 < v <= 1.0, "a number above 0 and at most 1"),
    "batch_size": (lambda v: v >= 1, "a whole number of at least 1"),
    "chunk_size": (lambda v: v >= 1, "a whole number of at least 1 (images per chunk)"),
    "workers": (lambda v: v >= 1, "a whole number of at least 1 (CPU worker threads, or Ray "
                                  "workers with --engine ray)"),
}


def check_engine(engine: Any, *, source: str = "--engine") -> str:
    """``engine`` as one of :data:`ENGINES`, or one line naming ``source`` and the choices."""
    if isinstance(engine, str) and engine in ENGINES:
        return engine
    import difflib

    near = difflib.get_close_matches(str(engine), ENGINES, n=1)
    hint = f" (did you mean {near[0]}?)" if near else ""
    raise UserError(f"{source}: unknown engine {engine!r}{hint}; choose one of "
                    f"{', '.join(ENGINES)}")


def check_option(key: str, value: Any, *, source: str) -> int | float:
    """``value`` of the audit option ``key`` (one of :data:`_RANGES`) as a plain int or float, or
    one line naming ``source``: a command-line option (``--n-boot``), a keyword argument
    (``n_boot``) or a config file and its key (``my.yaml: n_boot``)."""
    ok, must = _RANGES[key]
    kind = numbers.Real if key == "target_sensitivity" else numbers.Integral
    if isinstance(value, bool) or not isinstance(value, kind) or not ok(value):
        fix = "; fix it in the audit config" if ": " in source else ""
        raise UserError(f"{source}: must be {must}, got {value!r}{fix}")
    return float(value) if kind is numbers.Real else int(value)


def _check_ranges(merged: dict[str, Any], set_by) -> None:
    for key in _RANGES:
        if key in merged:
            merged[key] = check_option(key, merged[key], source=set_by(key))


def _setter(from_file: dict[str, Any], overrides: dict[str, Any] | None, where: str):
    """``set_by(key)``: how a message names the source of ``key``'s value, the command-line
    option (``--severities``) or the config file and key (``my.yaml: severities``)."""
    def set_by(key: str) -> str:
        if key in from_file and (overrides or {}).get(key) is None:
            return f"{where}: {key}"
        return f"--{key.replace('_', '-')}"

    return set_by


def build_config(*, model: str, data: str, out: str | Path, config: str | None = None,
                 overrides: dict[str, Any] | None = None) -> AuditConfig:
    """Merge the YAML config (default or ``config``) with command-line ``overrides``.

    ``overrides`` holds only what the user gave on the command line (None values are ignored).
    """
    from_file, where = _read_config(config)
    merged = dict(from_file)
    for key, value in (overrides or {}).items():
        if value is not None:
            merged[key] = value
    set_by = _setter(from_file, overrides, where)
    from perturbations import families as preset_families  # the packaged presets
    from perturbations import ladder

    pert = merged.pop("perturbations", None)
    if pert is None or pert == "clinical" or pert == ["clinical"]:
        pert_names = tuple(preset_families("clinical"))
    elif isinstance(pert, str) and pert in {"imagenet-c", "imagenet_c"}:
        pert_names = tuple(preset_families("imagenet-c"))
    else:
        pert_names = parse_list(pert, option=set_by("perturbations"))
    severities = parse_severities(merged.pop("severities", None), option=set_by("severities"))
    ladder(pert_names, severities, option=set_by("perturbations"))  # unknown names fail here
    gradcam = parse_gradcam(merged.pop("gradcam", None), option=set_by("gradcam"))
    label_groupings = merged.pop("label_groupings", None)
    _check_ranges(merged, set_by)
    check_seed(merged.get("seed", 0), option=set_by("seed"))
    if "engine" in merged:
        merged["engine"] = check_engine(merged["engine"], source=set_by("engine"))
    if merged.get("ray_address") is not None and merged.get("engine", "local") != "ray":
        raise UserError(f"{set_by('ray_address')}: a Ray address needs --engine ray (got engine "
                        f"{merged.get('engine', 'local')!r}); add --engine ray or leave it out")
    if "skin_tone_scheme" in merged:
        from subgroups.schemes import SCHEME_NAMES

        if merged["skin_tone_scheme"] not in SCHEME_NAMES:
            raise UserError(f"{set_by('skin_tone_scheme')}: unknown skin-tone scheme "
                            f"{merged['skin_tone_scheme']!r}; choose one of "
                            f"{', '.join(SCHEME_NAMES)}")
    regions = merged.get("attention_regions")
    if regions:
        for name, box in regions.items():
            if clashes_with_builtin_share(name):
                raise UserError(f"attention_regions.{name}: the name clashes with a built-in "
                                f"share ({', '.join(BUILTIN_SHARES)}, *_area); rename it")
            ok = (isinstance(box, (list, tuple)) and len(box) == 4
                  and all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in box)
                  and box[0] < box[2] and box[1] < box[3])
            if not ok:
                raise UserError(f"attention_regions.{name}: expected [x0, y0, x1, y1] as fractions of "
                                f"the image (0-1, x0 < x1, y0 < y1), got {box!r}")
    known = {f.name for f in dataclasses.fields(AuditConfig)}
    unknown = set(merged) - known
    if unknown:
        raise UserError(f"unknown option(s): {', '.join(sorted(unknown))}")
    return AuditConfig(
        model=model,
        data=data,
        out=Path(out),
        perturbations=pert_names,
        severities=severities,
        gradcam=gradcam,
        label_groupings=tuple(label_groupings) if label_groupings is not None else None,
        **merged,
    )
