"""Load and validate an image dataset: every usable image decoded once, every other file named.

Layouts ``load_dataset`` accepts:

* **A folder of class subfolders** ``D/<class>/**/*.jpg``: the label is the name of the top-level
  subfolder; files in deeper folders belong to that class. Images lying directly in ``D`` are
  skipped ("image outside a class folder").
* **A folder of images** with no subfolder at all: every image is loaded with the label ``""``.
* **A CSV manifest** ``path,label,...`` (``file`` is accepted for ``path``; the label column is
  optional and the labels are then ``""``; ``label_column`` picks another one). Paths are relative
  to the manifest's folder, or to ``data_root`` when given; ``\\`` is read as ``/``. Every other
  column is kept in ``Dataset.extra`` (e.g. ``fitzpatrick``), row-aligned with ``Dataset.files``.
  Files in the folder that the manifest does not list are not part of the dataset.
* **A folder holding ``manifest.csv`` or ``labels.csv``** is read through that manifest when the
  choice is unambiguous: exactly one of the two names is present and it has a ``path``/``file``
  column. Both present is an error (pass the one to use). A CSV without a path column is not a
  manifest: the folder is then read as one of the folder layouts. A found manifest whose ``split``
  column mixes several splits (e.g. a ``train``/``test`` parent) is an error: pass the split's
  folder.

In the folder layouts, files are chosen by extension (``.jpg .jpeg .jpe .png .bmp .gif .tif .tiff
.webp``, any case), as Keras does; other files are listed as "not an image file". Folders whose
name starts with ``.``, and ``__MACOSX``, are ignored entirely. Symbolic links are never followed
out of the data root, and symlinked folders are not followed at all. In a manifest, a listed file
is decoded whatever its extension.

Every unusable file is listed in ``Dataset.skipped`` with one of the stable reasons below (and
those of ``harness.data.decode``); a dataset with no usable image raises ``UserError``. Decoding runs
in a thread pool (Pillow, OpenCV and hashlib release the GIL); results are in sorted file order
whatever the number of threads.

Images given as arrays (the Python API) become a ``Dataset`` too: ``harness.data.arrays``.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import re
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from harness.errors import UserError
from harness.data.decode import (  # noqa: F401  (BadImage and the reasons are re-exported)
    BOMB,
    CORRUPT,
    DECODER_VERSION,
    DEFAULT_MAX_PIXELS,
    EMPTY_FILE,
    FILE_NOT_FOUND,
    TRUNCATED,
    UNREADABLE,
    UNRECOGNISED,
    UNSUPPORTED_MODE,
    BadImage,
    _check_size,
    decode_bytes,
)

__all__ = ["BadImage", "Dataset", "DatasetPlan", "Decoded", "Skipped", "assemble_dataset",
           "dataset_fingerprint", "decode_entry", "decode_one_file", "decoding_warnings",
           "load_dataset", "plan_dataset"]

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
)
MANIFEST_NAMES = ("manifest.csv", "labels.csv")
PATH_COLUMNS = ("path", "file")

# Reasons for skipping (stable strings; decoding reasons come from harness.data.decode).
NOT_AN_IMAGE = "not an image file"
NOT_A_MANIFEST = "not an image file (CSV without a path column, not read as a manifest)"
OUTSIDE_CLASS = "image outside a class folder"
EMPTY_CLASS = "empty class folder"
NO_USABLE_IN_CLASS = "no usable image in class folder"
SYMLINK_OUTSIDE = "symlink leaves the data root"
SYMLINK_FOLDER = "symlinked folder not followed"
BROKEN_SYMLINK = "broken symlink"
NOT_A_FILE = "not a regular file"
ABSOLUTE_PATH = "absolute path in manifest"
LEAVES_ROOT = "path leaves the data root"
EMPTY_PATH = "empty path in manifest"
DUPLICATE_ROW = "duplicate manifest row"
CONFLICTING_LABELS = "conflicting labels in manifest"
MISSING_LABEL = "missing label"
UNKNOWN_LABEL = "unknown label {label!r}"

_FINGERPRINT_HEADER = "dermatrace-dataset-v1\n"


@dataclass(frozen=True)
class Skipped:
    """A file (or folder, ending in ``/``) that was not used, and why."""

    file: str  # relative to the data root (posix); manifest problems name the manifest row
    reason: str


@dataclass
class Dataset:
    """The usable images of a dataset, decoded at one size, and the files that were skipped."""

    root: Path
    files: list[str]
    labels: np.ndarray
    class_names: list[str]
    images: np.ndarray | None  # None when streamed: the pixels are read a chunk at a time
    image_hashes: list[str]
    extra: pd.DataFrame
    original_sizes: list[tuple[int, int]]
    skipped: list[Skipped]
    fingerprint: str
    layout: str = field(default="class_folders")  # "class_folders" | "flat" | "manifest"

    def __len__(self) -> int:
        return len(self.files)

    def class_counts(self) -> dict[str, int]:
        """Images per label (``""`` counts unlabelled images), sorted by label."""
        counts = Counter(str(label) for label in self.labels)
        return {label: counts[label] for label in sorted(counts)}

    def summary(self) -> dict:
        """The JSON-ready ``dataset`` section of results.json (plain Python types only)."""
        sizes = Counter(f"{w}x{h}" for w, h in self.original_sizes)
        return {
            "root": str(self.root),
            "layout": self.layout,
            "fingerprint": self.fingerprint,
            "n_images": len(self.files),
            "class_counts": self.class_counts(),
            "skipped": [{"file": s.file, "reason": s.reason} for s in self.skipped],
            "image_sizes": {key: sizes[key] for key in sorted(sizes)},
            "decoder": DECODER_VERSION,
        }


@dataclass(frozen=True)
class _Entry:
    file: str  # posix, relative to root
    path: Path
    label: str
    row: int  # manifest row (0-based, data rows) or -1


@dataclass
class DatasetPlan:
    """The candidate files of a dataset with their labels, before any is decoded."""
    root: Path
    layout: str
    entries: list[_Entry]
    skipped: list[Skipped]
    extra: pd.DataFrame | None = None  # manifest extra columns, indexed by manifest row
    manifest: Path | None = None  # the manifest read (layout "manifest")
    label_column: str | None = None  # the manifest's label column; None when it has none
    columns: list[str] = field(default_factory=list)  # the manifest's columns


def load_dataset(
    path: str | Path,
    *,
    size: tuple[int, int],
    allowed_labels: Sequence[str] | None = None,
    data_root: Path | None = None,
    progress: bool = False,
    label_column: str = "label",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    workers: int | None = None,
) -> Dataset:
    """Load every usable image of a dataset at one size, and name every file that is not usable.

    Parameters
    ----------
    path : str or Path
        A folder of class subfolders, a folder of images without subfolders (labels ``""``), a
        folder holding one ``manifest.csv``/``labels.csv``, or a CSV manifest (see module doc).
    size : (width, height)
        Size of the decoded images (``harness.data.decode.decode_image``: EXIF-oriented, RGB uint8,
        squashed to size with INTER_AREA when shrinking and INTER_LINEAR when enlarging).
    allowed_labels : sequence of str, optional
        When given, images whose label is not in it are skipped ("unknown label 'x'", or
        "missing label" for an empty one).
    data_root : Path, optional
        Folder the manifest's paths are relative to (default: the manifest's folder). Only for
        manifests.
    progress : bool
        Show a tqdm progress bar while decoding.
    label_column : str
        Manifest column holding the label (case-insensitive). When it is ``"label"`` and absent,
        the labels are ``""``; any other name must exist.
    max_pixels : int
        Images announcing more pixels are skipped as "decompression bomb"; Pillow's own
        ``DecompressionBombWarning``/``Error`` are skips too.
    workers : int, optional
        Decoding threads (default: the CPUs this process may use, at most 8).

    Returns
    -------
    Dataset
        Usable images in sorted file order; ``skipped`` sorted by file.

    Raises
    ------
    UserError
        The path does not exist, is not a folder or CSV, the manifest is unreadable or ambiguous,
        or no usable image remains (one line naming the path and what to do).
    """
    _check_size(size)
    if size is None:
        raise ValueError("size must be (width, height), got None")
    if not isinstance(max_pixels, int) or max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive int, got {max_pixels!r}")
    plan = plan_dataset(path, allowed_labels=allowed_labels, data_root=data_root,
                        label_column=label_column)
    results = _decode_all(plan.entries, size=tuple(size), max_pixels=max_pixels,
                          workers=workers, progress=progress)
    return assemble_dataset(plan, results, path=path, size=tuple(size))



def plan_dataset(path: str | Path, *, allowed_labels: Sequence[str] | None = None,
                 data_root: Path | None = None, label_column: str = "label") -> DatasetPlan:
    """Which files a dataset holds and with which labels, without decoding any (the first half of
    :func:`load_dataset`; its parameters and errors). A streamed audit decodes the planned entries
    a chunk at a time (``harness.data.source``)."""
    allowed = None if allowed_labels is None else frozenset(str(v) for v in allowed_labels)
    source = Path(path)
    if not source.exists():
        raise UserError(
            f"{path}: no such file or folder; pass a folder of class subfolders, a folder of "
            "images or a CSV manifest"
        )
    if data_root is not None and not Path(data_root).is_dir():
        raise UserError(f"{data_root}: data root is not a folder (got {str(data_root)!r}); "
                        "pass the folder the manifest's paths are relative to")

    if source.is_dir():
        manifest = _find_manifest(source)
        if manifest is not None:
            return _plan_manifest(manifest, root=Path(data_root or source), allowed=allowed,
                                  label_column=label_column, found_in_folder=True)
        else:
            if data_root is not None:
                raise UserError(f"{path}: data_root applies only to a CSV manifest (got "
                                f"{str(data_root)!r} for a folder); leave it out or pass the "
                                "manifest")
            return _plan_folder(source.resolve(), allowed=allowed)
    elif source.suffix.lower() == ".csv":
        return _plan_manifest(source, root=Path(data_root or source.parent), allowed=allowed,
                              label_column=label_column, found_in_folder=False)
    else:
        raise UserError(
            f"{path}: not a folder or a .csv manifest (got a {source.suffix or 'no-extension'} "
            "file); pass a folder of images or a CSV manifest"
        )


def dataset_fingerprint(files: Sequence[str], hashes: Sequence[str], labels: Sequence[str]) -> str:
    """sha256 over the sorted ``(file, sha256 of bytes, label)`` triples of the usable images.

    Depends on names, contents and labels only (not on file times or the order files were listed).
    """
    if not len(files) == len(hashes) == len(labels):
        raise ValueError(f"files, hashes and labels differ in length: {len(files)}, {len(hashes)}, "
                         f"{len(labels)}")
    digest = hashlib.sha256(_FINGERPRINT_HEADER.encode())
    for file, content, label in sorted(zip(files, hashes, (str(v) for v in labels))):
        digest.update(f"{file}\t{content}\t{label}\n".encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Planning: which files, with which labels (no decoding yet)


def _find_manifest(folder: Path) -> Path | None:
    found = [folder / name for name in MANIFEST_NAMES if (folder / name).is_file()]
    if len(found) > 1:
        raise UserError(
            f"{folder}: holds both manifest.csv and labels.csv, so the manifest is ambiguous; pass "
            f"the one to use (e.g. {found[0]})"
        )
    if found and _path_column(_read_header(found[0])) is not None:
        return found[0]
    return None


def _plan_folder(root: Path, *, allowed: frozenset[str] | None) -> DatasetPlan:
    skipped: list[Skipped] = []
    files = _walk(root, skipped)
    class_dirs = sorted(
        child.name for child in root.iterdir()
        if child.is_dir() and not child.is_symlink() and not _ignored_folder(child.name)
    )
    linked_dirs = [s for s in skipped if s.file.endswith("/") and s.file.count("/") == 1]
    layout = "class_folders" if class_dirs or linked_dirs else "flat"
    images_found = {name: 0 for name in class_dirs}  # image files per class folder
    entries: list[_Entry] = []
    for rel in files:
        is_image = Path(rel).suffix.lower() in IMAGE_EXTENSIONS
        top, _, rest = rel.partition("/")
        if not rest and not is_image and top in MANIFEST_NAMES:
            skipped.append(Skipped(rel, NOT_A_MANIFEST))
        elif not is_image:
            skipped.append(Skipped(rel, NOT_AN_IMAGE))
        elif layout == "class_folders" and not rest:
            skipped.append(Skipped(rel, OUTSIDE_CLASS))
        else:
            label = top if layout == "class_folders" else ""
            images_found[label] = images_found.get(label, 0) + 1
            reason = _label_problem(label, allowed)
            if reason is not None:
                skipped.append(Skipped(rel, reason))
            else:
                entries.append(_Entry(rel, root / rel, label, -1))
    if layout == "class_folders":
        skipped.extend(Skipped(f"{name}/", EMPTY_CLASS)
                       for name, count in images_found.items() if count == 0)
    return DatasetPlan(root, layout, entries, skipped)


def _walk(root: Path, skipped: list[Skipped]) -> list[str]:
    """Every file under ``root`` (sorted, posix, relative); symlinks leaving root are skipped."""
    files: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        kept = []
        for name in sorted(dirnames):
            if _ignored_folder(name):
                continue
            folder = here / name
            if folder.is_symlink():
                rel = folder.relative_to(root).as_posix() + "/"
                reason = SYMLINK_FOLDER if _inside(root, folder) else SYMLINK_OUTSIDE
                skipped.append(Skipped(rel, reason))
                continue
            kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            file = here / name
            rel = file.relative_to(root).as_posix()
            if file.is_symlink():
                if not file.exists():
                    skipped.append(Skipped(rel, BROKEN_SYMLINK))
                    continue
                if not _inside(root, file):
                    skipped.append(Skipped(rel, SYMLINK_OUTSIDE))
                    continue
            if not file.is_file():
                skipped.append(Skipped(rel, NOT_A_FILE))
                continue
            files.append(rel)
    return sorted(files)


def _plan_manifest(manifest: Path, *, root: Path, allowed: frozenset[str] | None,
                   label_column: str, found_in_folder: bool) -> DatasetPlan:
    columns = _read_header(manifest)
    path_col = _path_column(columns)
    if path_col is None:
        raise UserError(
            f"{manifest}: no 'path' or 'file' column (got columns {columns!r}); add a column of "
            "image paths relative to the manifest's folder"
        )
    label_col = _find_column(columns, label_column)
    if label_col is None and label_column.lower() != "label":
        raise UserError(f"{manifest}: no label column {label_column!r} (got columns {columns!r}); "
                        "name one of them as the label column")
    try:
        text = pd.read_csv(manifest, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        inferred = pd.read_csv(manifest, encoding="utf-8-sig", low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise UserError(f"{manifest}: not a readable CSV manifest ({_one_line(error)}); save it as "
                        "UTF-8 CSV with a header row") from None
    text.columns = [str(c).strip() for c in text.columns]
    inferred.columns = text.columns
    if found_in_folder:
        split_col = _find_column(list(text.columns), "split")
        if split_col is not None:
            splits = sorted({v.strip() for v in text[split_col] if v.strip()})
            if len(splits) > 1:
                raise UserError(
                    f"{manifest}: rows from several splits ({', '.join(map(repr, splits))}); "
                    f"pass one split's folder (e.g. {manifest.parent / splits[0]}) or a manifest "
                    "of one split"
                )
    root = root.resolve()
    extra_cols = [c for c in text.columns if c not in (path_col, label_col)]
    raw_paths = [v.strip() for v in text[path_col]]
    labels = [v.strip() for v in text[label_col]] if label_col else [""] * len(text)

    skipped: list[Skipped] = []
    rows_by_file: dict[str, list[int]] = {}
    for row, raw in enumerate(raw_paths):
        where = f"{manifest.name}:{row + 2}"
        if not raw:
            skipped.append(Skipped(where, EMPTY_PATH))
            continue
        posix = raw.replace("\\", "/")
        if posix.startswith("/") or re.match(r"^[A-Za-z]:/", posix):
            skipped.append(Skipped(raw, ABSOLUTE_PATH))
            continue
        rel = posixpath.normpath(posix)
        if rel == ".." or rel.startswith("../"):
            skipped.append(Skipped(raw, LEAVES_ROOT))
            continue
        rows_by_file.setdefault(rel, []).append(row)

    entries: list[_Entry] = []
    for rel, rows in rows_by_file.items():
        if len({labels[r] for r in rows}) > 1:
            skipped.extend(Skipped(rel, CONFLICTING_LABELS) for _ in rows)
            continue
        skipped.extend(Skipped(rel, DUPLICATE_ROW) for _ in rows[1:])
        row = rows[0]
        reason = _file_problem(root, rel) or _label_problem(labels[row], allowed)
        if reason is not None:
            skipped.append(Skipped(rel, reason))
            continue
        entries.append(_Entry(rel, root / rel, labels[row], row))
    entries.sort(key=lambda e: e.file)
    return DatasetPlan(root, "manifest", entries, skipped, extra=inferred[extra_cols],
                 manifest=manifest, label_column=label_col, columns=list(text.columns))


def _read_header(manifest: Path) -> list[str]:
    try:
        header = pd.read_csv(manifest, nrows=0, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise UserError(f"{manifest}: empty CSV file; give it a header row with a 'path' column "
                        "and one row per image") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise UserError(f"{manifest}: not a readable CSV manifest ({_one_line(error)}); save it as "
                        "UTF-8 CSV with a header row") from None
    except OSError as error:
        raise UserError(f"{manifest}: cannot read it ({_one_line(error)}); check its "
                        "permissions") from None
    return [str(c).strip() for c in header.columns]


def _path_column(columns: Sequence[str]) -> str | None:
    for wanted in PATH_COLUMNS:
        found = _find_column(columns, wanted)
        if found is not None:
            return found
    return None


def _find_column(columns: Sequence[str], wanted: str) -> str | None:
    for column in columns:
        if column.strip().lower() == wanted.strip().lower():
            return column
    return None


def _file_problem(root: Path, rel: str) -> str | None:
    full = root / rel
    if not os.path.lexists(full):
        return FILE_NOT_FOUND
    if not _inside(root, full):
        return SYMLINK_OUTSIDE
    if not full.exists():
        return BROKEN_SYMLINK
    if not full.is_file():
        return NOT_A_FILE
    return None


def _label_problem(label: str, allowed: frozenset[str] | None) -> str | None:
    if allowed is None or label in allowed:
        return None
    if label == "":
        return MISSING_LABEL
    return UNKNOWN_LABEL.format(label=label)


def _inside(root: Path, path: Path) -> bool:
    """Whether ``path``, with every symlink resolved, lies inside ``root`` (already resolved)."""
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # symlink loops
        return False


def _ignored_folder(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200]


# ---------------------------------------------------------------------------------------------
# Decoding and assembling


@dataclass(frozen=True)
class Decoded:
    """One planned entry after decoding: its image (None once dropped, or when unusable), its
    size on disk, the sha256 of its bytes, and the reason it is unusable (None when usable)."""
    image: np.ndarray | None
    original_size: tuple[int, int] | None
    sha256: str | None
    reason: str | None


def _decode_one(entry: _Entry, size: tuple[int, int], max_pixels: int) -> Decoded:
    try:
        data = entry.path.read_bytes()
    except FileNotFoundError:
        return Decoded(None, None, None, FILE_NOT_FOUND)
    except OSError:
        return Decoded(None, None, None, UNREADABLE)
    try:
        image, original = decode_bytes(data, size=size, max_pixels=max_pixels)
    except BadImage as error:
        return Decoded(None, None, None, error.reason)
    return Decoded(image, original, hashlib.sha256(data).hexdigest(), None)


def decode_one_file(data: bytes, *, size: tuple[int, int],
                    max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, str]:
    """One image file's bytes decoded as :func:`load_dataset` decodes each of its files.

    The same policy, size and checks (Pillow's ``DecompressionBombWarning`` an error, its other
    warnings silenced): the same bytes give the same pixels and the same content hash as in an
    audit. Returns the ``(height, width, 3)`` uint8 image and the sha256 of ``data``; raises
    ``BadImage`` (its ``reason`` one of the stable strings) for anything that is not a usable
    image.
    """
    _check_size(size)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL(\.|$)")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image, _ = decode_bytes(data, size=tuple(size), max_pixels=max_pixels)
    return image, hashlib.sha256(data).hexdigest()


@contextmanager
def decoding_warnings() -> Iterator[None]:
    """Pillow's bomb warning as an error (then a skip), its other warnings about damaged files
    silenced: every damaged file is reported through ``skipped`` instead. The filters are
    global, so one context around a whole pass covers its decoding threads too."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL(\.|$)")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def decode_entry(entry: _Entry, size: tuple[int, int], max_pixels: int) -> Decoded:
    """Read and decode one planned entry (inside :func:`decoding_warnings`)."""
    return _decode_one(entry, size, max_pixels)


def _decode_all(entries: list[_Entry], *, size: tuple[int, int], max_pixels: int,
                workers: int | None, progress: bool) -> list[Decoded]:
    if workers is None:
        workers = _available_cpus()
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers!r}")
    bar = tqdm(total=len(entries), desc="Decoding images", unit="img", disable=not progress)
    results: list[Decoded] = []
    with decoding_warnings(), bar:
        if workers == 1 or len(entries) < 2:
            for entry in entries:
                results.append(_decode_one(entry, size, max_pixels))
                bar.update(1)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
                for decoded in pool.map(lambda e: _decode_one(e, size, max_pixels), entries):
                    results.append(decoded)
                    bar.update(1)
    return results


def assemble_dataset(plan: DatasetPlan, results: list[Decoded], *, path: str | Path,
                     size: tuple[int, int]) -> Dataset:
    """The :class:`Dataset` of a plan once every entry was decoded (``results`` in plan order).
    When the results hold no pixels (a streamed audit keeps none), ``Dataset.images`` is None."""
    skipped = list(plan.skipped)
    usable: list[tuple[_Entry, Decoded]] = []
    for entry, decoded in zip(plan.entries, results):
        if decoded.reason is None:
            usable.append((entry, decoded))
        else:
            skipped.append(Skipped(entry.file, decoded.reason))
    if plan.layout == "class_folders":  # a class whose decodable candidates all failed
        tried = {entry.label for entry in plan.entries}
        used = {entry.label for entry, _ in usable}
        skipped.extend(Skipped(f"{name}/", NO_USABLE_IN_CLASS) for name in sorted(tried - used))
    skipped.sort(key=lambda s: (s.file, s.reason))

    if not usable:
        raise UserError(_no_labels(plan, skipped, path=path) or
                        f"{path}: no usable image ({_skip_summary(skipped)}); pass a folder of "
                        "class subfolders (D/<class>/*.jpg), a folder of images or a CSV "
                        "manifest with a 'path' column")

    width, height = size
    images = None
    if all(decoded.image is not None for _, decoded in usable):
        images = np.empty((len(usable), height, width, 3), dtype=np.uint8)
        for i, (_, decoded) in enumerate(usable):
            images[i] = decoded.image
    files = [entry.file for entry, _ in usable]
    labels = [entry.label for entry, _ in usable]
    hashes = [decoded.sha256 for _, decoded in usable]
    if plan.extra is not None:
        extra = plan.extra.iloc[[entry.row for entry, _ in usable]].reset_index(drop=True)
    else:
        extra = pd.DataFrame(index=pd.RangeIndex(len(usable)))
    return Dataset(
        root=plan.root,
        files=files,
        labels=np.array(labels, dtype=str),
        class_names=sorted({label for label in labels if label}),
        images=images,
        image_hashes=hashes,
        extra=extra,
        original_sizes=[decoded.original_size for _, decoded in usable],
        skipped=skipped,
        fingerprint=dataset_fingerprint(files, hashes, labels),
        layout=plan.layout,
    )


def _no_labels(plan: DatasetPlan, skipped: list[Skipped], *, path: str | Path) -> str | None:
    """The message when no image is usable because none has a label (an audit needs them), or
    None when that is not why: where labels come from in the layout given, and what to add."""
    unlabelled = sum(s.reason == MISSING_LABEL for s in skipped)
    if unlabelled == 0 or plan.entries:  # some image had a label and failed for another reason
        return None
    images = f"{unlabelled} image{'s' if unlabelled != 1 else ''}"
    if plan.layout == "flat":
        return (f"{path}: a folder of images without class subfolders gives no labels ({images} "
                f"without one); labels come from class subfolders ({path}/<class>/*.jpg) or from "
                "a 'label' column of a CSV manifest (path,label)")
    if plan.layout == "manifest" and plan.label_column is None:
        return (f"{plan.manifest}: no 'label' column (columns: {', '.join(plan.columns)}), so "
                f"none of its {images} has a label; add a 'label' column with each image's "
                "class, or give a folder of class subfolders")
    if plan.layout == "manifest" and not any(s.reason.startswith("unknown label") for s in skipped):
        return (f"{plan.manifest}: column {plan.label_column!r} is empty for all {images}; fill "
                "in each image's class")
    return None


def _skip_summary(skipped: list[Skipped]) -> str:
    if not skipped:
        return "no image files found"
    counts = Counter(s.reason for s in skipped).most_common()
    shown = ", ".join(f"{n} {reason}" for reason, n in counts[:3])
    more = f", {len(counts) - 3} more reasons" if len(counts) > 3 else ""
    return f"{len(skipped)} skipped: {shown}{more}"


def _available_cpus() -> int:
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        count = os.cpu_count() or 1
    return max(1, min(count, 8))
