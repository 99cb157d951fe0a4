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
:func:`quiet_tensorflow` when ``quiet=True``. No other module reads or sets the environment.
"""
from __future__ import annotations

import os

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
