"""Gates as the Python API takes them: a gate file, or a list of gates written as the file's
``gates:`` list holds them (dicts), or :class:`harness.gates.file.Gate` objects."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import UserError, UserTypeError
from harness.gates.file import Gate, _parse_gate, load_gates


def gate_list(gates: Any, *, name: str = "gates") -> list[Gate]:
    """Validated gates from ``gates`` (see the module docstring); ``name`` is the argument the
    messages name.

    Raises
    ------
    UserTypeError
        ``gates`` is neither a path nor a list.
    UserError
        The file is missing or malformed, the list is empty, or a gate is malformed (the same
        checks as a gate file, one line naming the gate).
    """
    if isinstance(gates, (str, Path)):
        return load_gates(gates)
    if isinstance(gates, (list, tuple)):
        if not gates:
            raise UserError(f"{name}=[]: no gates; give a gate file or a non-empty list of gates")
        # One parser for files and lists: the list is checked exactly as a file's gates: list.
        return [g if isinstance(g, Gate) else _parse_gate(g, i, name) for i, g in enumerate(gates)]
    raise UserTypeError(f"{name}: expected a gate file (a path) or a list of gates (dicts with "
                        f"metric, scope and a bound), got {type(gates).__name__}")
