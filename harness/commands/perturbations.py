"""``harness perturbations [NAME ...]``: the perturbation families and presets an audit can run.

For each family: its name, what it varies in physical terms (the family's own ``summary``) and
its parameters at severities 1-5 (the family's table, exactly what the kernel is given); then the
presets with their families and severities, and how to ask for them. ``NAME`` narrows the list
to some families or presets (an unknown one is refused with the names it might mean). Written to
standard output.
"""
from __future__ import annotations

import textwrap

from harness.errors import EXIT_OK, UserError

_WIDTH = 100
_USAGE = """\
How to use them:
  harness run --model M --data D --perturbations blur,brightness_down --severities 1,3
  harness run --model M --data D --perturbations imagenet-c     (a preset; the default is clinical)
  harness run --model M --data D --perturbations none           (clean images only)
  harness perturb D --out DIR --perturbations redness --preview (see what they do to your images)
Each family runs at every severity of --severities (default 1-5). A variant is named
<family>@<severity>: samples.csv has its probabilities in column p[blur@3], and a gate file names
it as perturbation: blur with severity: 3 (docs/gates.md). The same names go in an audit config's
perturbations: list and in harness.audit(perturbations=[...])."""


def perturbations(*, names: list[str], quiet: bool = False) -> int:
    """Print the families and presets (all, or those in ``names``); exit code 0."""
    print(describe(names))
    return EXIT_OK


def describe(names: list[str] | None = None) -> str:
    """The text ``harness perturbations`` prints: every family and preset, or those named."""
    from perturbations import FAMILIES, load_preset, presets
    from perturbations.registry import unknown_name_message

    wanted_families, wanted_presets = list(FAMILIES), presets()
    if names:
        preset_keys = {p.replace("-", "_"): p for p in presets()}
        wanted_families, wanted_presets = [], []
        for name in names:
            if name in FAMILIES:
                wanted_families.append(name)
            elif name.lower().replace("-", "_") in preset_keys:
                wanted_presets.append(preset_keys[name.lower().replace("-", "_")])
            else:
                raise UserError(unknown_name_message(name, option="harness perturbations"))
    blocks = []
    if wanted_families:
        blocks.append("Perturbation families (parameters at severities 1-5; severity 0 is the "
                      "clean image):")
        blocks.extend(_family_block(FAMILIES[name]) for name in dict.fromkeys(wanted_families))
    if wanted_presets:
        blocks.append("Presets (--perturbations NAME stands for its families, each run at the "
                      "severities of --severities):")
        blocks.extend(_preset_block(load_preset(name)) for name in dict.fromkeys(wanted_presets))
    blocks.append(_USAGE)
    return "\n\n".join(blocks)


def _family_block(spec) -> str:
    lines = [spec.name]
    lines += textwrap.wrap(spec.summary, width=_WIDTH, initial_indent="  ",
                           subsequent_indent="  ")
    severities = sorted(spec.table)
    params = list(dict.fromkeys(k for s in severities for k in spec.table[s]))
    rows = [["severity", *map(str, severities)]]
    rows += [[p, *(_value(spec.table[s].get(p)) for s in severities)] for p in params]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines += ["    " + "  ".join(cell.rjust(w) if i else cell.ljust(w)
                                  for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
              for row in rows]
    notes = []
    if spec.stochastic:
        notes.append("random per image, seeded by --seed and the image")
    if spec.uses_mask:
        notes.append("acts on the skin/lesion region")
    if spec.credit:
        notes.append(f"after {spec.credit}")
    if notes:
        lines += textwrap.wrap("; ".join(notes), width=_WIDTH, initial_indent="  (",
                               subsequent_indent="   ")
        lines[-1] += ")"
    return "\n".join(lines)


def _preset_block(preset: dict) -> str:
    severities = preset["severities"]
    lines = [f"{preset['name']}  (designed for severities {_span(severities)})"]
    if preset["description"]:
        lines += textwrap.wrap(preset["description"], width=_WIDTH, initial_indent="  ",
                               subsequent_indent="  ")
    lines += textwrap.wrap(", ".join(preset["families"]), width=_WIDTH,
                           initial_indent="  families: ", subsequent_indent="            ")
    return "\n".join(lines)


def _span(severities: list[int]) -> str:
    s = sorted(severities)
    if len(s) > 2 and s == list(range(s[0], s[-1] + 1)):
        return f"{s[0]}-{s[-1]}"
    return ",".join(map(str, s))


def _value(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
