"""The Python API: the same pipeline as ``python -m harness run`` and ``compare``, for notebooks.

::

    import harness

    audit = harness.audit(model="models/tuned.keras", data="DermNet/test",
                          perturbations=["blur", "brightness_up"], severities=[1, 3])
    audit.metrics()                                  # one row per skin-tone group, plus "overall"
    audit.gates("configs/gates/ci-default.yaml")     # verdicts, re-judged from the results alone
    baseline = harness.load_run("runs/baseline")     # a run directory; no TensorFlow
    harness.compare(baseline, audit).deltas("group", "balanced_accuracy")

:func:`audit` takes the command line's options as keyword arguments of the same names, plus what
only Python can give: a loaded ``keras.Model`` or a callable as the model, arrays as the data.
``import harness`` stays cheap: this module is loaded on first use of ``harness.audit`` (and
friends), and TensorFlow only when a model is actually run.

Errors. Arguments are keyword-only and checked before any work, as scikit-learn checks its own;
each message names the argument, what arrived and what to do. A bad value raises
:class:`harness.errors.UserError`, which is a ``ValueError``; an argument of the wrong type, or an
unknown keyword (with a did-you-mean), raises :class:`harness.errors.UserTypeError`, which is a
``TypeError``. Both are ``UserError``, the one expected-failure type the command line turns into
exit code 2. A value given as the command line's text (``severities="1,3"``,
``perturbations="blur,redness"``) is read and checked by the command line's own code, whose
messages name the command-line option (``--severities``); so are the ranges of ``batch_size``
and ``seed``, and the skin-tone scheme's name, so that ``harness run`` says what it always said.
``n_boot`` is checked here, by the rule the config uses (:func:`harness.config.check_option`), and
named as the keyword; ``harness run`` checks ``--n-boot`` by the same rule before calling
:func:`audit`.
"""
from __future__ import annotations

import difflib
import numbers
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.config import (build_config, cache_dir_option, check_engine, check_option,
                             check_seed)
from harness.data.arrays import array_data
from harness.environment import quiet_tensorflow
from harness.errors import UserError, UserTypeError
from harness.gates.given import gate_list
from harness.models.open import ModelWithSpec
from harness.paired.comparison import Comparison, judged_comparison
from harness.paired.runs import read_run, run_from_tables
from harness.models.sidecar import PREPROCESSING, parse_input_size
from harness.results.audit import Audit

__all__ = ["USER_CACHE", "Audit", "Comparison", "audit", "compare", "load_run"]


class _UserCache:
    """The default of ``cache=``: the per-user cache folder (``harness.config.default_cache_dir``)."""

    def __repr__(self) -> str:
        return "USER_CACHE"


USER_CACHE = _UserCache()

#: The keyword arguments of :func:`audit` besides ``model`` and ``data`` (for did-you-mean).
AUDIT_OPTIONS = (
    "out", "config", "gates", "strict", "perturbations", "severities", "gradcam",
    "gradcam_layer", "skin_tone_scheme", "label_groupings", "n_boot", "batch_size", "seed",
    "positive_class", "class_names", "threshold", "preprocessing", "input_size", "model_spec",
    "trust_model", "data_root", "extra", "cache", "quiet", "progress", "chunk_size", "workers",
    "engine", "ray_address",
)
COMPARE_OPTIONS = ("n_boot", "seed", "gates", "strict")


# ----------------------------------------------------------------------------------- audit
def audit(*, model: Any, data: Any, out: str | Path | None = None, config: str | Path | None = None,
          gates: str | Path | None = None, strict: bool = False, perturbations: Any = None,
          severities: Any = None, gradcam: str | int | None = None, gradcam_layer: str | None = None,
          skin_tone_scheme: str | None = None, label_groupings: list[str] | None = None,
          n_boot: int | None = None, batch_size: int | None = None, seed: int | None = None,
          positive_class: str | None = None, class_names: list[str] | None = None,
          threshold: float | None = None, preprocessing: str | None = None,
          input_size: int | tuple[int, int] | None = None, model_spec: str | Path | None = None,
          trust_model: bool = False, data_root: str | Path | None = None, extra: Any = None,
          cache: Any = USER_CACHE, quiet: bool = False, progress: bool | None = None,
          chunk_size: int | None = None, workers: int | None = None, engine: str | None = None,
          ray_address: str | None = None, **unknown: Any) -> Audit:
    """Audit a classifier on labelled images, as ``python -m harness run`` does.

    Parameters
    ----------
    model : str, Path, keras.Model or callable
        A ``.keras``, ``.h5`` or ``.tflite`` file, a SavedModel folder, ``module:function`` or
        ``path/to/file.py:function``; a loaded ``keras.Model``; or a Python callable mapping a
        uint8 batch (N, H, W, 3) to probabilities, (N,) or (N, classes). An object's hash comes
        from its architecture and weights (a keras.Model) or its code (a callable, whose
        closure and globals are not covered: pass ``cache=None`` after changing those).
    data : str, Path or tuple
        A folder of class subfolders, a folder of images, or a CSV manifest; or a tuple
        ``(images, labels)`` / ``(images, labels, extra)``: uint8 RGB images (one (N, H, W, 3)
        array or a list of (H, W, 3) arrays; other sizes are resized like decoded files),
        class-name strings, and a DataFrame of extra columns (e.g. ``fitzpatrick``). Array
        images are named ``array/000000``... and hashed from their pixels, so stochastic
        perturbations draw their own seeds for them.
    out : str or Path, optional
        Run directory to write (``results.json``, ``samples.csv``, ``report.html``,
        ``summary.md``, ``model_card.md``, thumbnails, ``junit.xml``). None writes nothing
        (except the cache); :meth:`Audit.save` writes it later.
    config, gates, strict, perturbations, severities, gradcam, gradcam_layer, skin_tone_scheme, \
n_boot, batch_size, seed, positive_class, model_spec, trust_model, data_root
        The command line's options of the same names: ``perturbations=["blur"]`` (or
        ``"clinical"``, ``"imagenet-c"``, ``"none"``), ``severities=[1, 3]``, ``gradcam="none"``
        / ``"all"`` / ``"auto"`` / a number of images, a YAML ``config`` and ``gates`` file.
    label_groupings : list of str, optional
        Manifest columns to group by (default: the Fitzpatrick/Monk columns it has).
    class_names, threshold, preprocessing, input_size : optional
        The model's spec where it has no sidecar; they override the sidecar's where it has one.
    extra : DataFrame, optional
        Extra columns for array data (the tuple's third element).
    cache : str, Path or None
        Cache folder; ``USER_CACHE`` (the default) is the per-user cache, None no cache.
    quiet : bool
        Print nothing (by default the command line's lines go to stderr); this also sets
        ``TF_CPP_MIN_LOG_LEVEL`` to 2 when it is lower, which silences TensorFlow's start-up lines
        if TensorFlow is not imported yet.
    progress : bool, optional
        Progress bars; default on when stderr is a terminal and not ``quiet``.
    chunk_size, workers, engine, ray_address : optional
        How the audit runs, never what it finds: images per chunk (default 32; memory is bounded
        by it), CPU worker threads ahead of the model (default 2), ``"local"`` or ``"ray"``, and
        the Ray cluster to join (default: a local Ray started for the run).

    Returns
    -------
    Audit
        With ``.results``, ``.samples``, ``.metrics()``, ``.gates()``, ``.save()``, ``.report()``.
    """
    _refuse_unknown(unknown, AUDIT_OPTIONS + ("model", "data"), function="harness.audit")
    model_arg = _model_argument(model, class_names=class_names, threshold=threshold,
                                preprocessing=preprocessing, input_size=input_size)
    data_arg = _data_argument(data, extra=extra)
    for name, value in (("out", out), ("config", config), ("gates", gates),
                        ("model_spec", model_spec), ("data_root", data_root)):
        _check_type(name, value, (str, Path), "a path")
    for name, value in (("gradcam_layer", gradcam_layer), ("skin_tone_scheme", skin_tone_scheme),
                        ("positive_class", positive_class)):
        _check_type(name, value, str, "a string")
    for name, value in (("n_boot", n_boot), ("batch_size", batch_size), ("seed", seed),
                        ("chunk_size", chunk_size), ("workers", workers)):
        _check_type(name, value, numbers.Integral, "a whole number", no_bool=True)
    if n_boot is not None:
        n_boot = check_option("n_boot", n_boot, source="n_boot")
    for name, value in (("chunk_size", chunk_size), ("workers", workers)):
        if value is not None:
            check_option(name, value, source=name)
    for name, value in (("engine", engine), ("ray_address", ray_address)):
        _check_type(name, value, str, "a string")
    if engine is not None:
        engine = check_engine(engine, source="engine")
    for name, value in (("strict", strict), ("trust_model", trust_model), ("quiet", quiet)):
        _check_type(name, value, bool, "True or False", optional=False)
    _check_type("progress", progress, bool, "True, False or None")
    if quiet:  # nothing on stderr: TensorFlow reads its log level once, when first imported
        quiet_tensorflow(force=True)
    overrides = {
        "perturbations": _perturbations(perturbations), "severities": _severities(severities),
        "gradcam": _gradcam(gradcam), "gradcam_layer": gradcam_layer,
        "skin_tone_scheme": skin_tone_scheme, "label_groupings": _names("label_groupings",
                                                                         label_groupings),
        "batch_size": batch_size, "n_boot": n_boot, "seed": seed,
        "positive_class": positive_class, "model_spec": _text(model_spec),
        "trust_model": trust_model or None, "data_root": _text(data_root),
        "gates": _text(gates), "strict": strict or None, "cache_dir": _cache_dir(cache),
        "chunk_size": chunk_size, "workers": workers, "engine": engine, "ray_address": ray_address,
    }
    show = progress if progress is not None else (not quiet and sys.stderr.isatty())
    with _run_dir(out) as run_dir:
        cfg = build_config(model=model_arg, data=data_arg, out=run_dir, config=_text(config),
                           overrides=overrides)
        _check_before_work(cfg)
        # The pipeline imports the stages' kernels (scipy, scikit-learn, fairlearn): on use.
        from harness.pipeline.audit import run_audit

        results = run_audit(cfg, progress=show, log=_stderr_log(quiet))
        if out is not None:
            from reports.render import render_report  # Jinja2 and matplotlib: on use

            render_report(run_dir, results=results)
        return Audit.read(run_dir, keep_path=out is not None)


def load_run(run_dir: str | Path) -> Audit:
    """An audit's run directory (``results.json``, ``samples.csv``, thumbnails), read into an
    :class:`Audit`. Imports no TensorFlow and runs no model."""
    _check_type("run_dir", run_dir, (str, Path), "a path", optional=False)
    if not Path(run_dir).is_dir():
        raise UserError(f"run_dir: expected a run directory written by harness.audit or "
                        f"'harness run', got {str(run_dir)!r}, which is not a folder")
    return Audit.read(run_dir)


def compare(a: Audit | str | Path, b: Audit | str | Path, *, n_boot: int | None = None,
            seed: int = 0, gates: Any = None, strict: bool = False, **unknown: Any) -> Comparison:
    """Is the candidate ``b`` really better than the baseline ``a``, and for whom?

    Parameters
    ----------
    a, b : Audit, str or Path
        Two audits of the same images (or their run directories): the baseline and the
        candidate.
    n_boot : int, optional
        Paired resamples; default the baseline's own ``n_boot``.
    seed : int
        Seed of the paired resamples.
    gates : str, Path or list, optional
        A gate file or a list of gates: absolute gates are judged on the candidate, regression
        gates (``max_regression``) on the comparison.
    strict : bool
        WARN fails too.

    Returns
    -------
    Comparison
        With ``.results`` (comparison.json), ``.deltas()``, ``.gates()``, ``.save()``.
    """
    _refuse_unknown(unknown, COMPARE_OPTIONS + ("a", "b"), function="harness.compare")
    _check_type("n_boot", n_boot, numbers.Integral, "a whole number", no_bool=True)
    if n_boot is not None and n_boot < 1:
        raise UserError(f"n_boot: expected a whole number of at least 1, got {n_boot!r}; "
                        "or leave it out to use the baseline's")
    _check_type("seed", seed, numbers.Integral, "a whole number", optional=False, no_bool=True)
    check_seed(int(seed))
    _check_type("strict", strict, bool, "True or False", optional=False)
    gate_objects = gate_list(gates) if gates is not None else None  # a bad gate file stops here
    for name, value in (("a", a), ("b", b)):
        _check_type(name, value, (Audit, str, Path), "an Audit (from harness.audit or "
                    "harness.load_run) or a run directory", optional=False)
    base, cand = _run_of(a, role="baseline"), _run_of(b, role="candidate")
    return judged_comparison(base, cand, n_boot=None if n_boot is None else int(n_boot),
                             seed=int(seed), gates=gate_objects, strict=strict)


# ------------------------------------------------------------------------------- arguments
def _shown(value: Any) -> str:
    """What arrived, in one short line (arrays by dtype and shape)."""
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"an array of dtype {dtype} and shape {tuple(shape)}"
    if isinstance(value, (list, tuple)) and any(hasattr(v, "shape") for v in value):
        kinds = ", ".join(type(v).__name__ for v in value[:3])
        return f"a {type(value).__name__} of {len(value)} items ({kinds}{', ...' if len(value) > 3 else ''})"
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _got(value: Any) -> str:
    """:func:`_shown` plus the type where the text does not say it."""
    shown = _shown(value)
    return shown if shown.startswith(("a ", "an ")) else f"{shown} ({type(value).__name__})"


def _refuse_unknown(unknown: dict, known: tuple[str, ...], *, function: str) -> None:
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"valid: {', '.join(sorted(known))}"
        raise UserTypeError(f"{function}() got an unexpected keyword argument {name!r}; {hint}")


def _check_type(name: str, value: Any, types: Any, expected: str, *, optional: bool = True,
                no_bool: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, types) or (no_bool and isinstance(value, bool)):
        raise UserTypeError(f"{name}: expected {expected}, got {_got(value)}")


def _text(value: str | Path | None) -> str | None:
    return None if value is None else str(value)


def _model_argument(model: Any, **spec: Any) -> Any:
    """``model`` checked, with the spec fields given as arguments (a :class:`ModelWithSpec`)."""
    if isinstance(model, (str, Path)):
        text = str(model)
        if not Path(text).exists() and ":" not in text:
            raise UserError(f"model: expected a model file or folder (.keras, .h5, .tflite, a "
                            f"SavedModel) or 'module:function', got {text!r}, which does not "
                            "exist; check the path")
    elif not callable(model):  # a keras.Model is callable too
        raise UserTypeError(f"model: expected a path, 'module:function', a keras.Model or a "
                            f"callable, got {_got(model)}")
    fields = _spec_fields(**spec)
    return ModelWithSpec(model=model, fields=fields) if fields else model


def _spec_fields(*, class_names: Any, threshold: Any, preprocessing: Any,
                 input_size: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if class_names is not None:
        if isinstance(class_names, str) or not isinstance(class_names, (list, tuple)):
            raise UserTypeError(f"class_names: expected a list of class names in output order, "
                                f"got {_shown(class_names)}; e.g. class_names=['benign', 'malignant']")
        names = list(class_names)
        if len(names) < 2 or len(set(names)) != len(names) or \
                not all(isinstance(n, str) and n for n in names):
            raise UserError(f"class_names: expected at least 2 distinct non-empty strings in "
                            f"output order, got {_shown(names)}")
        fields["class_names"] = names
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
            raise UserTypeError(f"threshold: expected a number between 0 and 1, got "
                                f"{_got(threshold)}")
        if not 0.0 < float(threshold) < 1.0:
            raise UserError(f"threshold: expected a number strictly between 0 and 1, got "
                            f"{threshold!r}; e.g. threshold=0.5")
        fields["threshold"] = float(threshold)
    if preprocessing is not None:
        _check_type("preprocessing", preprocessing, str, "a string")
        if preprocessing not in PREPROCESSING:
            raise UserError(f"preprocessing: expected one of {', '.join(PREPROCESSING)}, got "
                            f"{preprocessing!r}")
        fields["preprocessing"] = preprocessing
    if input_size is not None:
        if isinstance(input_size, (bool, str)) or not isinstance(input_size, (int, tuple, list)):
            raise UserTypeError(f"input_size: expected (width, height) or one int, got "
                                f"{_got(input_size)}")
        try:
            fields["input_size"] = parse_input_size(
                list(input_size) if isinstance(input_size, tuple) else input_size,
                source="input_size")
        except UserError:
            raise UserError(f"input_size: expected (width, height) in pixels or one int for a "
                            f"square, got {input_size!r}; e.g. input_size=(224, 224)") from None
    return fields


def _data_argument(data: Any, *, extra: Any) -> Any:
    """``data`` checked: a path as given, or arrays as :class:`harness.data.arrays.ArrayData`."""
    if isinstance(data, (str, Path)):
        if extra is not None:
            raise UserError(f"extra: only for array data, got it with data={str(data)!r}; a "
                            "manifest's extra columns come from the manifest itself")
        if not Path(data).exists():
            raise UserError(f"data: expected a folder of class subfolders, a folder of images "
                            f"or a CSV manifest, got {str(data)!r}, which does not exist; check "
                            "the path")
        return str(data)
    if isinstance(data, tuple) and len(data) in (2, 3):
        third = data[2] if len(data) == 3 else None
        if third is not None and extra is not None:
            raise UserError("extra: given twice (as data's third element and as extra=); give "
                            "one of them")
        return array_data(data[0], data[1], third if third is not None else extra, name="data")
    raise UserTypeError(f"data: expected a path or a tuple (images, labels[, extra]), got "
                        f"{_got(data)}")


def _perturbations(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value  # the command line's text: read by harness.config
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise UserTypeError(f"perturbations: expected a list of family names, got {_shown(value)}"
                            "; e.g. perturbations=['blur', 'brightness_up']")
    # the ladder's modules: needed by an audit only
    from perturbations import FAMILIES, presets
    from perturbations.registry import unknown_name_message

    known = {k.replace("-", "_") for k in list(FAMILIES) + presets()}
    for name in value:
        if name.replace("-", "_") not in known:
            raise UserError(unknown_name_message(name, option="perturbations"))
    return list(value)


def _severities(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    items = [value] if isinstance(value, numbers.Integral) else value
    if not isinstance(items, (list, tuple)) or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in items):
        raise UserTypeError(f"severities: expected whole numbers 1-5, got {_shown(value)}; e.g. "
                            "severities=[1, 3]")
    bad = [v for v in items if not 1 <= int(v) <= 5]
    if bad or not items:
        raise UserError(f"severities: expected whole numbers 1-5, got {_shown(value)}; e.g. "
                        "severities=[1, 3]")
    return [int(v) for v in items]


def _gradcam(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UserTypeError(f"gradcam: expected 'none', 'all', 'auto' or a number of images, got "
                            f"{_got(value)}")
    if value < 1:
        raise UserError(f"gradcam: expected a number of images of at least 1, got {value!r}; "
                        "or gradcam='none' for no heatmaps")
    return int(value)


def _names(name: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or \
            not all(isinstance(v, str) for v in value):
        raise UserTypeError(f"{name}: expected a list of column names, got {_shown(value)}")
    return list(value)


def _cache_dir(cache: Any) -> Path | None:
    if cache is USER_CACHE:
        return cache_dir_option(None)
    if cache is None:
        return None
    _check_type("cache", cache, (str, Path), "a folder, None (no cache) or USER_CACHE")
    return cache_dir_option(cache)


def _check_before_work(cfg: Any) -> None:
    """What can be judged without the model or the images stops here, before either is opened
    and before the run directory is created (``build_config`` has checked the option values):
    the files the options name, the skin-tone scheme with its settings, and a gate file against
    the perturbations and severities this run will have (its groupings are known only once the
    images are read: the pipeline checks those)."""
    # Needed by an audit only (subgroups pulls in scipy): not at import, which load_run shares.
    from harness.gates.evaluate import check_gates, load_gates
    from perturbations import ladder
    from subgroups import get_scheme

    for option, value, is_there, what in (("--model-spec", cfg.model_spec, Path.is_file, "file"),
                                          ("--data-root", cfg.data_root, Path.is_dir, "folder")):
        if value is not None and not is_there(Path(value)):
            raise UserError(f"{option} {value}: not a {what}; check the path")
    variants = [v.name for v in ladder(list(cfg.perturbations), list(cfg.severities))]
    get_scheme(cfg.skin_tone_scheme, settings=cfg.skin_tone)
    if cfg.gates:
        gates = load_gates(cfg.gates)
        if variants:
            _check_gate_severities(gates, severities=cfg.severities)
        check_gates(gates, variants=variants)


def _check_gate_severities(gates: list, *, severities: tuple[int, ...]) -> None:
    """A gate that judges every family at some severities needs all of them in the run."""
    for gate in gates:
        if gate.kind == "regression" or gate.perturbation is not None or gate.severity is None:
            continue
        missing = [s for s in gate.severity if s not in severities]
        if missing:
            need = ",".join(str(s) for s in sorted(set(severities) | set(gate.severity)))
            raise UserError(
                f"{gate.label}: judges every perturbation family at severities "
                f"{_listed(gate.severity)}, but this run has only {_listed(severities)}; run "
                f"with --severities {need} (the default 1-5 has them all), or use a gate file "
                f"without this gate")


def _listed(values) -> str:
    return ", ".join(str(v) for v in values)


def _stderr_log(quiet: bool) -> Callable[[str], None]:
    def log(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr)
    return log


@contextmanager
def _run_dir(out: str | Path | None) -> Iterator[Path]:
    """``out``, or a temporary folder removed afterwards (the Audit keeps what it needs)."""
    if out is not None:
        yield Path(out)
        return
    with tempfile.TemporaryDirectory(prefix="dermatrace-audit-") as tmp:
        yield Path(tmp) / "run"


def _run_of(value: Audit | str | Path, *, role: str):
    """A :class:`harness.paired.runs.Run` of an Audit or a run directory."""
    if isinstance(value, Audit):
        path = value.run_dir if value.run_dir is not None else Path(f"<{role} audit>")
        return run_from_tables(path, value.results, value.samples)
    return read_run(Path(value))
