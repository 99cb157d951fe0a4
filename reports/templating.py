"""The HTML template environment, shared by the run report (:mod:`reports.render`) and the
comparison page (:mod:`reports.comparison`)."""
from __future__ import annotations

import jinja2

_ENVS: dict[bool, jinja2.Environment] = {}


def environment(*, strict: bool = False) -> jinja2.Environment:
    """The HTML template environment (autoescape on), built once.

    ``strict`` makes a name missing from the view model an error (tests); otherwise it prints
    as nothing.
    """
    if strict not in _ENVS:
        _ENVS[strict] = jinja2.Environment(
            loader=jinja2.PackageLoader("reports", "templates"),
            autoescape=True,  # every template is HTML: escape everything, whatever its extension
            undefined=jinja2.StrictUndefined if strict else jinja2.ChainableUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _ENVS[strict]
