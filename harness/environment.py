"""The process environment that third-party libraries read once, when they are first imported.

TensorFlow's C++ runtime prints its start-up lines (``cpu_feature_guard.cc``: "This TensorFlow
binary is optimized ...", oneDNN's notice, absl's "All log messages before absl::InitializeLog()
...") from the main process's main thread while ``import tensorflow`` loads its shared library,
which in an audit happens at the model's first prediction. Whether they are printed is decided by
``TF_CPP_MIN_LOG_LEVEL`` as it is in the process environment at that moment: setting it after the
import has no effect, and a value TensorFlow reads as 0 (empty, ``"0"``, not a number) lets them
through.

Newer TensorFlow releases (2.20 and later) print the oneDNN notice and absl's line through absl
before any log level is read, so ``TF_CPP_MIN_LOG_LEVEL`` no longer hides them. With a level of 1
or more, :func:`quiet_tensorflow` therefore also puts a one-shot import hook in front of
``import tensorflow`` (:class:`_QuietStartup`): while TensorFlow's module runs, file descriptor 2
goes to a temporary file, and afterwards every line of it is written back to stderr except the
start-up INFO and WARNING lines of absl's format (``I0000 ...``, ``W0000 ...`` and absl's "All log
messages before ..."). Errors, Python warnings and tracebacks still show. TensorFlow's numerics
are not touched (oneDNN stays as TensorFlow chooses).

Only the entry points call these functions, before anything imports TensorFlow:
:func:`harness.cli.main` calls :func:`prepare_libraries`, and :func:`harness.audit` calls
:func:`quiet_tensorflow` when ``quiet=True``; the Ray engine calls :func:`quiet_ray` just before
it imports Ray and gives its workers :func:`ray_worker_env`. No other module reads or sets the environment.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

#: Variables of the driver's environment that Ray workers get too (libraries kept quiet and local).
RAY_WORKER_ENV = ("NO_ALBUMENTATIONS_UPDATE", "TF_CPP_MIN_LOG_LEVEL", "MPLBACKEND", "KERAS_HOME",
                  "MPLCONFIGDIR", "PYTHONHASHSEED")
#: TensorFlow's C++ log level that hides INFO and WARNING lines (errors still show).
QUIET_TF_LEVEL = 2


#: TensorFlow's start-up lines that a log level of 1 or more hides: absl's INFO/WARNING format
#: (severity letter, MMDD, time, thread, file:line]) and absl's notice before its logging starts.
_STARTUP_LINE = re.compile(r"^(?:[IW]\d{4} [\d:.]+\s+\d+ [^\]]+\] |"
                           r"WARNING: All log messages before absl::InitializeLog\(\) is called)")


def quiet_tensorflow(*, force: bool) -> None:
    """Set ``TF_CPP_MIN_LOG_LEVEL`` to 2 when it is unset or not a whole number, and with
    ``force`` also when it is below 2; with a level of 1 or more and TensorFlow not yet imported,
    put the start-up filter (:class:`_QuietStartup`) in front of its import."""
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip()
    if not level.isdigit() or (force and int(level) < QUIET_TF_LEVEL):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = str(QUIET_TF_LEVEL)
    if int(os.environ["TF_CPP_MIN_LOG_LEVEL"].strip()) >= 1 and "tensorflow" not in sys.modules \
            and not any(isinstance(f, _QuietStartup) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietStartup())


def drop_startup_lines(text: str) -> str:
    """``text`` without TensorFlow's start-up INFO/WARNING lines (:data:`_STARTUP_LINE`)."""
    return "".join(line for line in text.splitlines(keepends=True) if not _STARTUP_LINE.match(line))


class _QuietStartup(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as usual (then leaves ``sys.meta_path``) and runs its module with file
    descriptor 2 sent to a temporary file, written back through :func:`drop_startup_lines`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as caught:
            os.dup2(caught.fileno(), 2)
            try:
                self._loader.exec_module(module)
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                caught.seek(0)
                rest = drop_startup_lines(caught.read().decode("utf-8", "replace"))
                if rest:
                    sys.stderr.write(rest)
                    sys.stderr.flush()


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
