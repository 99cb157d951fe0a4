"""``harness ita D [--out CSV]``: the skin-tone estimate of every image."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from harness.errors import UserError

__all__ = ["CSV_COLUMNS", "ita", "ita_table", "run_ita"]

#: Columns of the CSV, in order (``label`` and manifest label columns follow when present).
CSV_COLUMNS = ["file", "ita", "ita_iqr", "skin_fraction", "group", "fitzpatrick_est", "L", "b"]
_LABEL_COLUMNS = ("fitzpatrick", "fitzpatrick_centaur", "monk")


def ita_table(ds, tone: pd.DataFrame) -> pd.DataFrame:
    """One row per image of a loaded dataset: file, the skin tone, then any label columns."""
    table = pd.DataFrame({"file": ds.files})
    for col in CSV_COLUMNS[1:]:
        table[col] = tone[col].to_numpy() if col != "fitzpatrick_est" else tone[col].array
    if any(str(v) for v in ds.labels):
        table["label"] = ds.labels
    for col in _LABEL_COLUMNS:
        if col in ds.extra.columns:
            table[col] = ds.extra[col].to_numpy()
    return table


def run_ita(*, data: str, out: str | None, scheme: str = "chardon6", size: int = 224,
            quiet: bool = False, skin_tone_config: str | None = None) -> int:
    """Estimate the skin tone of every image under ``data`` and write it as CSV.

    Parameters
    ----------
    data : a folder (with or without class subfolders) or a CSV manifest (``harness.data.load``).
    out : CSV path to write; ``None`` or ``"-"`` writes to standard output.
    scheme : ITA grouping (``chardon6``, ``coarse3``, ``kinyanjui8``, ``fitzpatrick``).
    size : images are decoded at ``size`` x ``size`` first, as an audit would see them.
    quiet : no progress bar and no summary on standard error.
    skin_tone_config : skin-tone settings file; None for the packaged ``configs/skin_tone.yaml``.

    Returns
    -------
    0 (errors a user can cause raise ``UserError``).
    """
    from harness.data.load import load_dataset
    from subgroups import estimate_skin_tone, get_scheme, group_order, label_agreement, load_config

    settings = load_config(skin_tone_config, option="skin_tone_config")  # read once, passed down
    get_scheme(scheme, settings=settings)  # an unknown name fails before any decoding
    if not isinstance(size, int) or size < 32:
        raise UserError(f"--size: expected an image side of at least 32 pixels (got {size!r})")
    progress = not quiet and sys.stderr.isatty()
    ds = load_dataset(data, size=(size, size), progress=progress)
    tone = estimate_skin_tone(ds.images, settings=settings, scheme=scheme, progress=progress)
    table = ita_table(ds, tone)
    text = table.to_csv(index=False, float_format="%.3f", lineterminator="\n")
    if out is None or out == "-":
        sys.stdout.write(text)
    else:
        path = Path(out)
        if path.parent and not path.parent.exists():
            raise UserError(f"--out: folder {str(path.parent)!r} does not exist; create it or pick "
                            "another path")
        path.write_text(text, encoding="utf-8")
    if not quiet:
        counts = table["group"].value_counts()
        shown = ", ".join(f"{g} {int(counts.get(g, 0))}" for g in group_order(scheme))
        where = "" if out is None or out == "-" else f" -> {out}"
        print(f"{len(table)} images ({len(ds.skipped)} skipped), {scheme}: {shown}{where}",
              file=sys.stderr)
        if "fitzpatrick" in table.columns:
            ag = label_agreement(tone["fitzpatrick_est"].tolist(), table["fitzpatrick"].tolist())
            if ag["n"]:
                print(f"fitzpatrick_est vs fitzpatrick (n={ag['n']}): exact {ag['exact']:.3f}, "
                      f"within 1 {ag['within_1']:.3f}, kappa {ag['kappa_linear'] or float('nan'):.3f}",
                      file=sys.stderr)
    return 0


def ita(*, data: str, out: str | None, scheme: str, size: int, quiet: bool) -> int:
    """The command as the CLI calls it."""
    return run_ita(data=data, out=out, scheme=scheme, size=size, quiet=quiet)
