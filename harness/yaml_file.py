"""Reading one YAML file, packaged or given by path, with limits a hostile file cannot get past.

Every YAML file DermaTrace reads (the audit config, the skin-tone settings, perturbation presets,
gate files) goes through :func:`read_yaml`. It parses with ``yaml`` safe loading (no Python
objects) and refuses, with a one-line :class:`~harness.errors.UserError` naming the file,

* a file larger than :data:`MAX_BYTES`;
* a document that would hold more than :data:`MAX_VALUES` values once every alias (``*name``,
  merge keys ``<<: *name`` included) is expanded, as in a "billion laughs" file, where nine
  anchors of nine aliases each stand for 9**9 strings;
* values nested deeper than :data:`MAX_DEPTH`, and an alias inside the value it names.

The limits are checked on the parser's event stream, before a single node is composed, so a
refused document costs the time of reading it and nothing is ever expanded or turned into text.
Ordinary anchors and aliases (a shared block of settings reused a few times) are read as usual.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from harness.errors import UserError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_VALUES", "YamlDocument", "parse_yaml", "read_yaml"]

#: Largest YAML file read (bytes); the packaged ones are a few tens of kilobytes.
MAX_BYTES = 4 * 1024 * 1024
#: Most values (scalars and collections) a document may hold with its aliases expanded.
MAX_VALUES = 100_000
#: Deepest nesting of collections, aliases expanded.
MAX_DEPTH = 64


class YamlDocument(NamedTuple):
    """What :func:`read_yaml` returns: the parsed value and the name to use for the file in
    messages (the path as given, or ``configs/<name>`` for a packaged file)."""

    data: Any
    source: str


def read_yaml(path: str | Path | None, *, packaged: str | None = None, what: str = "YAML file",
              option: str | None = None, hint: str = "give an existing YAML file") -> YamlDocument:
    """Read and parse a YAML file: ``path``, or the packaged ``configs/<packaged>`` when None.

    Parameters
    ----------
    path : the file to read; None reads the packaged file ``packaged``.
    packaged : name of a file in the ``configs`` package (required when ``path`` is None).
    what : what the file is, for messages (``"audit config"``, ``"gate file"``, ...).
    option : the option that named the file (``"--config"``), put before the path in messages.
    hint : what to do when the file does not exist.

    Returns
    -------
    YamlDocument
        ``(data, source)``: the parsed value (None for an empty file) and the file's name.

    Raises
    ------
    UserError
        One line naming the file: not found, too large, not UTF-8, not valid YAML, or over one of
        the limits (:data:`MAX_BYTES`, :data:`MAX_VALUES`, :data:`MAX_DEPTH`).
    """
    if path is None:
        if not packaged:
            raise ValueError("read_yaml: give a path or the name of a packaged file (packaged=)")
        source = f"configs/{packaged}"
        ref = resources.files("configs").joinpath(packaged)
        if not ref.is_file():
            raise UserError(f"{source}: packaged {what} missing; reinstall DermaTrace")
        raw = ref.read_bytes()
    else:
        p = Path(path)
        source = str(path)
        label = f"{option} {source}" if option else source
        if not p.is_file():
            raise UserError(f"{label}: {what} not found; {hint}")
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise UserError(f"{label}: {what} of {size:,} bytes refused (a YAML file may have at "
                            f"most {MAX_BYTES:,}); give the right file")
        with p.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise UserError(f"{source}: {what} refused: more than {MAX_BYTES:,} bytes; give the right file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{source}: not a UTF-8 text file; give a YAML {what}") from None
    return YamlDocument(parse_yaml(text, source=source), source)


def parse_yaml(text: str, *, source: str) -> Any:
    """Parse YAML text within the limits (see the module docstring); ``source`` names it in errors."""
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        _check_events(yaml.parse(text, Loader=loader_class), source)
        loader = loader_class(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise UserError(f"{source}: not valid YAML{at} ({problem}); fix the syntax") from None
    except RecursionError:
        raise UserError(f"{source}: refused: values nested too deeply; flatten the file") from None


def _check_events(events, source: str) -> None:
    """Refuse a document whose expanded size or depth passes the limits, from its events alone.

    Each open collection keeps the number of values under it and its height; an anchored value's
    expanded number and height are remembered when it ends, and an alias adds them where it
    stands.
    """
    import yaml

    named: dict[str, tuple[int, int]] = {}  # anchor -> (values, height) of the value it names
    unfinished: set[str] = set()
    stack: list[list] = []  # per open collection: [anchor, values under it, height]
    total = 0

    def place(values: int, height: int) -> None:
        """Count a value of ``values`` values and ``height`` levels where the parser stands."""
        nonlocal total
        total += values
        if total > MAX_VALUES:
            raise UserError(f"{source}: refused: the document expands to more than {MAX_VALUES:,} "
                            "values (anchors &name and aliases *name repeat what they name); write "
                            "the values out or use fewer aliases")
        if len(stack) + height > MAX_DEPTH:
            raise UserError(f"{source}: refused: values nested more than {MAX_DEPTH} deep (aliases "
                            "expanded); flatten the file")
        if stack:
            stack[-1][1] += values
            stack[-1][2] = max(stack[-1][2], height + 1)

    for event in events:
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in unfinished:
                raise UserError(f"{source}: refused: alias *{event.anchor} is inside the value it "
                                "names (a recursive anchor); remove it")
            place(*named.get(event.anchor, (1, 0)))  # an undefined alias: the parser says so
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor:
                named[event.anchor] = (1, 0)
            place(1, 0)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            place(1, 1)
            if event.anchor:
                unfinished.add(event.anchor)
            stack.append([event.anchor, 1, 1])
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, values, height = stack.pop()
            if stack:  # the collection itself was counted in its parent when it opened
                stack[-1][1] += values - 1
                stack[-1][2] = max(stack[-1][2], height + 1)
            if anchor:
                unfinished.discard(anchor)
                named[anchor] = (values, height)
