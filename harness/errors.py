"""The expected-failure exceptions and the exit codes they map to.

A user's mistake (a missing file, a malformed gate, an unknown option value) raises ``UserError``
with one line that names the file or option, what was wrong and what to do. ``UserError`` is a
``ValueError``; an argument of the wrong type raises ``UserTypeError``, which is also a
``TypeError``. The CLI prints that line and exits 2; nothing else in the library prints or exits.
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNEXPECTED = 3


class DermaTraceError(Exception):
    """Base class of every error DermaTrace raises on purpose."""

    exit_code = EXIT_UNEXPECTED


class UserError(DermaTraceError, ValueError):
    """Bad input or configuration: one clear line, exit code 2, no traceback."""

    exit_code = EXIT_BAD_INPUT


class UserTypeError(UserError, TypeError):
    """An argument of the wrong type (e.g. a string where the Python API takes a list): a
    ``TypeError`` for Python callers, bad input (exit code 2) like every ``UserError``."""


class NotAvailable(DermaTraceError):
    """A capability the given model does not have (e.g. gradients of a .tflite model)."""
