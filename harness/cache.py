"""A content-keyed on-disk cache of small arrays (predictions, per-image scores).

Layout and format
-----------------
Entries live in namespaces (for predictions ``f"{model.hash}/{variant}"``); a namespace is a
folder named by the sha256 of its name, sharded by its first two hex digits::

    ROOT/v1/ab/ab12...ef/<segment>.seg

Each :meth:`ArrayCache.put_many` call writes ONE immutable segment file holding all the arrays it
was given: ``b"DTCACHE1"``, a little-endian uint32 header length, a JSON header (namespace, and
per entry: key, dtype, shape, offset, byte count), the raw array bytes, and the sha256 of
everything before it. A segment is written to a temporary file in the same folder and moved into
place with ``os.replace``, so readers only ever see complete segments; the temporary file is
deleted on any failure, KeyboardInterrupt included. A segment whose checksum or header does not
verify is treated as missing (its entries are recomputed) and removed.

Why segments: a prediction run stores one segment per batch (so a killed run keeps every finished
batch), and reading a namespace back is a handful of file reads instead of one file per image.
When a namespace holds more than :data:`MAX_SEGMENTS` segments they are merged into one. Reading
3,500 cached scalars (110 batches of 32) takes about 20-30 ms on 2 busy cores
(``bench/bench_inference.py`` measures it); one ``.npy`` file per key took about 25x longer to
read (0.56 s), 8x longer to write, and a 4 KiB disk block per scalar.

Keys are stored whole (no truncated digests), so two keys never collide. Concurrent writers are
safe: segments are content-named and immutable, and a merge deletes only segments whose entries it
has written into the merged file.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
import time
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from harness.results.io import atomic_write_bytes

from harness.errors import UserError

MAGIC = b"DTCACHE1"
FORMAT_DIR = "v1"
#: A namespace with more segments than this is merged into one segment on the next write.
MAX_SEGMENTS = 64
#: Temporary files older than this (seconds) are left-overs of killed writers and are removed.
STALE_TMP_SECONDS = 3600.0

_LEN = struct.Struct("<I")
_DIGEST_BYTES = 32


def encode_segment(namespace: str, items: Mapping[str, np.ndarray]) -> bytes:
    """Serialise ``items`` (key -> array) into one segment (see the module docstring)."""
    entries = []
    blobs = []
    offset = 0
    for key, value in items.items():
        if not isinstance(key, str):
            raise TypeError(f"cache keys must be str, got {type(key).__name__}")
        arr = np.asarray(value)  # tobytes() is C order whatever the layout
        if arr.dtype.hasobject:
            raise TypeError(f"cache values must be plain arrays, got dtype {arr.dtype} for {key!r}")
        data = arr.tobytes()
        entries.append([key, arr.dtype.str, list(arr.shape), offset, len(data)])
        blobs.append(data)
        offset += len(data)
    header = json.dumps({"namespace": namespace, "entries": entries}, separators=(",", ":"))
    hbytes = header.encode("utf-8")
    body = b"".join([MAGIC, _LEN.pack(len(hbytes)), hbytes, *blobs])
    return body + hashlib.sha256(body).digest()


def decode_segment(
    data: bytes, *, namespace: str, wanted: set[str] | None = None
) -> dict[str, np.ndarray]:
    """Parse a segment; ``wanted`` limits which keys are materialised.

    Raises
    ------
    ValueError
        When the segment is truncated, fails its checksum, or belongs to another namespace.
    """
    if len(data) < len(MAGIC) + _LEN.size + _DIGEST_BYTES or not data.startswith(MAGIC):
        raise ValueError("not a cache segment")
    body, digest = data[:-_DIGEST_BYTES], data[-_DIGEST_BYTES:]
    if hashlib.sha256(body).digest() != digest:
        raise ValueError("checksum mismatch")
    (hlen,) = _LEN.unpack_from(body, len(MAGIC))
    start = len(MAGIC) + _LEN.size
    header = json.loads(body[start : start + hlen].decode("utf-8"))
    if header.get("namespace") != namespace:
        raise ValueError("segment of another namespace")
    payload = memoryview(body)[start + hlen :]
    out: dict[str, np.ndarray] = {}
    for key, dtype, shape, offset, nbytes in header["entries"]:
        if wanted is not None and key not in wanted:
            continue
        dt = np.dtype(dtype)
        if offset + nbytes > len(payload):
            raise ValueError("entry outside the segment")
        arr = np.frombuffer(payload, dtype=dt, count=nbytes // dt.itemsize if dt.itemsize else 0,
                            offset=offset)
        out[key] = arr.reshape(shape).copy()
    return out


class ArrayCache:
    """Content-keyed on-disk cache of arrays; ``root=None`` disables it.

    Parameters
    ----------
    root : Path or None
        Cache folder (created on first write). None: every lookup misses and writes are dropped.
    """

    def __init__(self, root: Path | None):
        self.root = None if root is None else Path(root)

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def __repr__(self) -> str:
        return f"ArrayCache({str(self.root)!r})" if self.root else "ArrayCache(None)"

    def namespace_dir(self, namespace: str) -> Path:
        if self.root is None:
            raise ValueError("the cache is disabled")
        digest = hashlib.sha256(namespace.encode("utf-8")).hexdigest()
        return self.root / FORMAT_DIR / digest[:2] / digest

    def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Arrays stored under ``keys`` in ``namespace``; missing or corrupt entries are absent."""
        if self.root is None or not keys:
            return {}
        wanted = set(keys)
        found: dict[str, np.ndarray] = {}
        for _, entries in self._segments(namespace, wanted):
            found.update(entries)
            if len(found) == len(wanted):
                break
        return found

    def put_many(self, namespace: str, items: Mapping[str, np.ndarray]) -> None:
        """Store ``items`` (key -> array) in ``namespace`` as one atomically written segment.

        Raises
        ------
        UserError
            When the cache folder cannot be written.
        """
        if self.root is None or not items:
            return
        folder = self.namespace_dir(namespace)
        data = encode_segment(namespace, items)
        name = hashlib.sha256(data).hexdigest()[:32] + ".seg"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(folder / name, data)
            if sum(1 for _ in _segment_files(folder)) > MAX_SEGMENTS:
                self._merge(namespace, folder)
        except OSError as exc:
            raise UserError(
                f"{self.root}: cannot write the prediction cache ({exc.strerror or exc}); "
                "give a writable folder with --cache or free some space"
            ) from exc

    # -- internals -----------------------------------------------------------------------------

    def _segments(
        self, namespace: str, wanted: set[str] | None
    ) -> Iterator[tuple[Path, dict[str, np.ndarray]]]:
        """Yield (file, entries) for every readable segment; corrupt ones are removed."""
        folder = self.namespace_dir(namespace)
        for path in _segment_files(folder):
            try:
                data = path.read_bytes()
            except OSError:  # vanished (merged by another writer) or unreadable: a miss
                continue
            try:
                entries = decode_segment(data, namespace=namespace, wanted=wanted)
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                _unlink_quietly(path)
                continue
            yield path, entries

    def _merge(self, namespace: str, folder: Path) -> None:
        merged: dict[str, np.ndarray] = {}
        sources: list[Path] = []
        for path, entries in self._segments(namespace, None):
            merged.update(entries)
            sources.append(path)
        if not merged:
            return
        data = encode_segment(namespace, dict(sorted(merged.items())))
        target = folder / (hashlib.sha256(data).hexdigest()[:32] + ".seg")
        atomic_write_bytes(target, data)
        for path in sources:
            if path != target:
                _unlink_quietly(path)
        _remove_stale_tmp(folder)


class RunCache(ArrayCache):
    """An :class:`ArrayCache` for one run: each namespace is read from disk once, at its first
    lookup, and later lookups are answered from memory (a streamed audit asks for a chunk of keys
    at a time; reading every segment again per chunk would cost O(N²)). Writes go to disk as
    before and into memory. Thread safe. Entries written by another process after the first
    lookup are not seen: they are recomputed, which is correct, only slower.
    """

    def __init__(self, root: Path | None):
        super().__init__(root)
        self._memo: dict[str, dict[str, np.ndarray]] = {}
        self._lock = threading.Lock()

    def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        if self.root is None or not keys:
            return {}
        with self._lock:
            table = self._memo.get(namespace)
            if table is None:
                table = {}
                for _, entries in self._segments(namespace, None):
                    table.update(entries)
                self._memo[namespace] = table
            return {k: table[k] for k in keys if k in table}

    def put_many(self, namespace: str, items: Mapping[str, np.ndarray]) -> None:
        super().put_many(namespace, items)
        if self.root is None or not items:
            return
        with self._lock:
            table = self._memo.get(namespace)
            if table is not None:
                table.update({k: np.asarray(v) for k, v in items.items()})


def _segment_files(folder: Path) -> list[Path]:
    try:
        names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(".seg"))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [folder / n for n in names]


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _remove_stale_tmp(folder: Path) -> None:
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for e in entries:
        if e.name.startswith(".") and e.name.endswith(".tmp"):
            try:
                if now - e.stat().st_mtime > STALE_TMP_SECONDS:
                    os.unlink(e.path)
            except OSError:
                pass
