"""On-disk layout of an index directory: immutable version folders and an atomic CURRENT pointer.

    directory/CURRENT                 text file naming the live version
    directory/v-<ns>-<rand>/meta.json counts, layout, and where each array sits in segment.bin
    directory/v-<ns>-<rand>/segment.bin all arrays, 64-byte aligned, native byte order

A new version is written to a hidden temporary folder, fsynced, renamed into place, and only then
is CURRENT replaced (os.replace is atomic), so a reader sees either the old or the new version.
Readers map segment.bin read-only and shared: every process on the machine uses the same pages
of the page cache, so memory does not multiply with the number of worker processes.
"""

from __future__ import annotations

import json
import mmap
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from moderation.pdq_index.errors import IndexFormatError

FORMAT = 1
CURRENT = "CURRENT"
SEGMENT_FILE = "segment.bin"
META_FILE = "meta.json"
_ALIGN = 64
_STALE_TEMP_SECONDS = 3600


def write_version(directory: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> str:
    """Write a new version folder and make it current; returns its name.

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
        with open(temporary / SEGMENT_FILE, "wb") as segment:
            for key, array in arrays.items():
                segment.write(b"\0" * (-segment.tell() % _ALIGN))
                manifest[key] = {
                    "dtype": array.dtype.str,
                    "shape": list(array.shape),
                    "offset": segment.tell(),
                }
                segment.write(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data)
            segment.flush()
            os.fsync(segment.fileno())
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


def current_version(directory: Path) -> str:
    """Name of the live version; IndexFormatError if the directory holds no index."""
    try:
        name = (directory / CURRENT).read_text(encoding="ascii").strip()
    except FileNotFoundError as error:
        raise IndexFormatError("no PDQ index in this directory (CURRENT is missing)") from error
    if not name.startswith("v-") or "/" in name:
        raise IndexFormatError("CURRENT does not name a version")
    return name


def map_version(
    directory: Path, name: str, populate: bool = True
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Map one version read-only; returns its arrays (views of the shared mapping) and meta.

    With `populate`, the kernel fills the page tables at once (MAP_POPULATE), so the first
    searches do not pay a page fault per touched page. Raises IndexFormatError if the version
    is missing, from another format, or truncated.
    """
    folder = directory / name
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        with open(folder / SEGMENT_FILE, "rb") as segment_file:
            if meta.get("format") != FORMAT:
                raise IndexFormatError("index was written in an unsupported format")
            size = os.fstat(segment_file.fileno()).st_size
            buffer: mmap.mmap | bytes = b""
            if size:
                flags = mmap.MAP_SHARED
                if populate and hasattr(mmap, "MAP_POPULATE"):
                    flags |= mmap.MAP_POPULATE
                # The mapping stays valid after the file is closed (and even after a newer
                # build deletes the folder), so readers never see a half-replaced index.
                buffer = mmap.mmap(segment_file.fileno(), size, flags=flags, prot=mmap.PROT_READ)
    except (FileNotFoundError, json.JSONDecodeError) as error:
        raise IndexFormatError("index version is missing or unreadable") from error
    arrays = {}
    try:
        for key, spec in meta["arrays"].items():
            dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
            items = int(np.prod(shape, dtype=np.int64))
            if spec["offset"] + items * dtype.itemsize > size:
                raise IndexFormatError("index segment file is truncated")
            array = np.frombuffer(buffer, dtype=dtype, count=items, offset=spec["offset"])
            arrays[key] = array.reshape(shape)
    except (KeyError, TypeError, ValueError) as error:
        raise IndexFormatError("index metadata is malformed") from error
    return arrays, meta


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
