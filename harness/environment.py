"""The process environment that third-party libraries read once, when they are first imported.

TensorFlow's C++ runtime prints its start-up lines (``cpu_feature_guard.cc``: "This TensorFlow
binary is optimized ...", oneDNN's notice, absl's "All log messages before absl::InitializeLog()
...") from the main process's main thread while ``import tensorflow`` loads its shared library,
which in an audit happens at the model's first prediction. Whether they are printed is decided by
``TF_CPP_MIN_LOG_LEVEL`` as it is in the process environment at that moment: setting it after the
import has no effect, and a value TensorFlow reads as 0 (empty, ``"0"``, not a number) lets them
through.

Only the entry points call these functions, before anything imports TensorFlow:
:func:`harness.cli.main` calls :func:`prepare_libraries`, and :func:`harness.audit` calls
:func:`quiet_tensorflow` when ``quiet=True``; the Ray engine calls :func:`quiet_ray` just before
it imports Ray and gives its workers :func:`ray_worker_env`. No other module reads or sets the environment.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

#: Variables of the driver's environment that Ray workers get too (libraries kept quiet and local).
RAY_WORKER_ENV = ("NO_ALBUMENTATIONS_UPDATE", "TF_CPP_MIN_LOG_LEVEL", "MPLBACKEND", "KERAS_HOME",
                  "MPLCONFIGDIR", "PYTHONHASHSEED")
#: TensorFlow's C++ log level that hides INFO and WARNING lines (errors still show).
QUIET_TF_LEVEL = 2


def quiet_tensorflow(*, force: bool) -> None:
    """Set ``TF_CPP_MIN_LOG_LEVEL`` to 2 when it is unset or not a whole number, and with
    ``force`` also when it is below 2."""
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip()
    if not level.isdigit() or (force and int(level) < QUIET_TF_LEVEL):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = str(QUIET_TF_LEVEL)


def prepare_libraries(*, quiet: bool) -> None:
    """The command line's environment: no update check (albumentations), a non-interactive
    matplotlib backend (values already set are kept) and TensorFlow's C++ log level
    (:func:`quiet_tensorflow`; ``quiet`` means nothing on stderr but errors, so it raises a lower
    level too)."""
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    quiet_tensorflow(force=quiet)


def quiet_ray() -> None:
    """No usage statistics from a Ray this process starts (``RAY_USAGE_STATS_ENABLED=0``,
    unless already set): Ray reads it when it starts a cluster."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def ray_worker_env(*, also: Sequence[str] = ()) -> dict[str, str]:
    """The environment variables a Ray worker of this process gets: ``PYTHONPATH`` starting with
    the folder that holds this ``harness``, then the folders ``also`` (where a model's module is
    imported from), then this process's own ``PYTHONPATH``; and this process's values of
    :data:`RAY_WORKER_ENV`."""
    root = str(Path(__file__).resolve().parent.parent)
    existing = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {name: os.environ[name] for name in RAY_WORKER_ENV if name in os.environ}
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([root, *also, *existing]))
    return env
