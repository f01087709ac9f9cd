"""On-disk layout of an index directory: immutable version folders and an atomic CURRENT pointer.

    directory/CURRENT                   text file naming the live version
    directory/v-<ns>-<rand>/meta.json   counts, layout, and where each array sits
    directory/v-<ns>-<rand>/segment.bin the arrays every search reads, 64-byte aligned
    directory/v-<ns>-<rand>/cold.bin    the arrays only confirmed candidates read

A new version is written to a hidden temporary folder, fsynced, renamed into place, and only then
is CURRENT replaced (os.replace is atomic), so a reader sees either the old or the new version.
Readers map segment.bin read-only and shared: every process on the machine uses the same pages
of the page cache, so memory does not multiply with the number of worker processes. cold.bin is
not mapped at all: its rows are read with pread, without read-ahead, for the few entries a search
confirms, so it takes no room in any process and only those rows' pages in the page cache.
"""

from __future__ import annotations

import json
import mmap
import os
import secrets
import shutil
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from moderation.pdq_index.errors import IndexFormatError

FORMAT = 2  # 2: arrays split between segment.bin and cold.bin
CURRENT = "CURRENT"
SEGMENT_FILE = "segment.bin"
COLD_FILE = "cold.bin"
META_FILE = "meta.json"
_ALIGN = 64
_STALE_TEMP_SECONDS = 3600


def write_version(
    directory: Path,
    arrays: dict[str, np.ndarray],
    meta: dict[str, Any],
    cold: frozenset[str] = frozenset(),
) -> str:
    """Write a new version folder and make it current; returns its name. The arrays named in
    `cold` go to cold.bin, the rest to segment.bin.

    Keeps the previous version (a reader may be opening it right now) and deletes older ones;
    processes that already mapped a deleted version keep reading it until they refresh. Newer
    folders (another builder between its rename and its switch) are never deleted.
    """
    directory.mkdir(parents=True, exist_ok=True)
    name = f"v-{time.time_ns():020d}-{secrets.token_hex(4)}"
    temporary = directory / f".tmp-{name}"
    temporary.mkdir()
    written = False
    try:
        manifest: dict[str, dict[str, Any]] = {}
        for file_name in (SEGMENT_FILE, COLD_FILE):
            chosen = {
                key: array
                for key, array in arrays.items()
                if (key in cold) == (file_name == COLD_FILE)
            }
            manifest.update(_write_arrays(temporary / file_name, chosen))
        _write_synced(
            temporary / META_FILE, json.dumps({**meta, "format": FORMAT, "arrays": manifest})
        )
        os.rename(temporary, directory / name)
        written = True
    finally:
        if not written:  # whatever went wrong, leave no half-written version behind
            shutil.rmtree(temporary, ignore_errors=True)
    _fsync_directory(directory)
    previous = current_version(directory) if (directory / CURRENT).exists() else None
    pointer = directory / f".{CURRENT}-{name}"
    _write_synced(pointer, name)
    os.replace(pointer, directory / CURRENT)
    _fsync_directory(directory)
    _prune(directory, oldest_kept=min(filter(None, (name, previous))))
    return name


def _write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """Write `arrays` 64-byte aligned into one synced file; returns their manifest entries."""
    manifest: dict[str, dict[str, Any]] = {}
    with open(path, "wb") as segment:
        for key, array in arrays.items():
            segment.write(b"\0" * (-segment.tell() % _ALIGN))
            manifest[key] = {
                "file": path.name,
                "dtype": array.dtype.str,
                "shape": list(array.shape),
                "offset": segment.tell(),
            }
            segment.write(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data)
        segment.flush()
        os.fsync(segment.fileno())
    return manifest


def current_version(directory: Path) -> str:
    """Name of the live version; IndexFormatError if the directory holds no index."""
    try:
        name = (directory / CURRENT).read_text(encoding="ascii").strip()
    except FileNotFoundError as error:
        raise IndexFormatError("no PDQ index in this directory (CURRENT is missing)") from error
    if not name.startswith("v-") or "/" in name:
        raise IndexFormatError("CURRENT does not name a version")
    return name


class ColdArray:
    """A read-only array in cold.bin, read row by row with pread (never mapped).

    Holds the file open, so the rows stay readable after a newer build deletes the folder, as
    with a mapping. Offers the two reads the index needs: some rows, or all of them.
    """

    def __init__(self, path: Path, offset: int, dtype: np.dtype, shape: tuple[int, ...]) -> None:
        self.dtype, self.shape, self._offset = dtype, shape, offset
        self._row_bytes = int(dtype.itemsize * np.prod(shape[1:], dtype=np.int64))
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)
        if hasattr(os, "posix_fadvise"):
            # Scattered single rows: read-ahead would only fill the cache with their neighbours.
            os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_RANDOM)

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The given rows (any order, repeats allowed), one pread per distinct row."""
        unique, inverse = np.unique(np.asarray(rows, dtype=np.int64), return_inverse=True)
        found = np.empty((unique.size, self._row_bytes), dtype=np.uint8)
        for slot, row in enumerate(unique.tolist()):
            data = os.pread(self._fd, self._row_bytes, self._offset + row * self._row_bytes)
            if len(data) != self._row_bytes:
                raise IndexFormatError("index cold file is truncated")
            found[slot] = np.frombuffer(data, dtype=np.uint8)
        values = found.view(self.dtype).reshape((unique.size, *self.shape[1:]))
        return values[inverse.reshape(-1)]

    def read_all(self) -> np.ndarray:
        """Every row (a rebuild reads the whole array once)."""
        size = self._row_bytes * self.shape[0]
        data = os.pread(self._fd, size, self._offset) if size else b""
        if len(data) != size:
            raise IndexFormatError("index cold file is truncated")
        return np.frombuffer(data, dtype=self.dtype).reshape(self.shape)


def map_version(
    directory: Path, name: str, populate: bool = True
) -> tuple[dict[str, np.ndarray | ColdArray], dict[str, Any]]:
    """Open one version: segment.bin's arrays as views of a shared read-only mapping, cold.bin's
    as ColdArray readers; returns them and the meta.

    With `populate`, the kernel fills the page tables at once (MAP_POPULATE), so the first
    searches do not pay a page fault per touched page. Raises IndexFormatError if the version
    is missing, from another format, or truncated.
    """
    folder = directory / name
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise IndexFormatError("index was written in an unsupported format")
        buffer = _map_file(folder / SEGMENT_FILE, populate=populate)
        cold_size = (folder / COLD_FILE).stat().st_size
    except (FileNotFoundError, json.JSONDecodeError) as error:
        raise IndexFormatError("index version is missing or unreadable") from error
    arrays: dict[str, np.ndarray | ColdArray] = {}
    try:
        for key, spec in meta["arrays"].items():
            dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
            items = int(np.prod(shape, dtype=np.int64))
            cold = spec["file"] == COLD_FILE
            if spec["offset"] + items * dtype.itemsize > (cold_size if cold else len(buffer)):
                raise IndexFormatError("index segment file is truncated")
            if cold:
                arrays[key] = ColdArray(folder / COLD_FILE, spec["offset"], dtype, shape)
            else:
                array = np.frombuffer(buffer, dtype=dtype, count=items, offset=spec["offset"])
                arrays[key] = array.reshape(shape)
    except (KeyError, TypeError, ValueError) as error:
        raise IndexFormatError("index metadata is malformed") from error
    return arrays, meta


def _map_file(path: Path, populate: bool) -> mmap.mmap | bytes:
    """A shared read-only mapping of the whole file (b"" for an empty one)."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if not size:
            return b""
        flags = mmap.MAP_SHARED
        if populate and hasattr(mmap, "MAP_POPULATE"):
            flags |= mmap.MAP_POPULATE
        # The mapping stays valid after the file is closed (and even after a newer build
        # deletes the folder), so readers never see a half-replaced index.
        return mmap.mmap(handle.fileno(), size, flags=flags, prot=mmap.PROT_READ)


def _prune(directory: Path, oldest_kept: str) -> None:
    now = time.time()
    for entry in directory.iterdir():
        # Version names start with a zero-padded timestamp, so name order is age order.
        if entry.name.startswith("v-") and entry.name < oldest_kept:
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(".tmp-") and now - entry.stat().st_mtime > _STALE_TEMP_SECONDS:
            # A builder that died mid-write; a live one touches its folder far more often.
            shutil.rmtree(entry, ignore_errors=True)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
