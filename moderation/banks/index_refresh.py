"""A PDQ index kept in step with a database table: one per process, built from a snapshot,
then refreshed incrementally (new rows by id) before each search.

Generic over the table: the caller supplies `load_after(session, after_id, limit)` returning
(ids, hex hashes) of rows with id > after_id in id order, and `max_id(session)`. Used for the
media-to-media index (moderation/triage/clusters.py) and meant for the bank index too.

Ids must only grow in commit order for the incremental poll to miss nothing; callers that need
that guarantee insert under a lock (clusters do). Results are candidates: callers re-check each
row they load, so an index left over from another database can cause a miss, never a false hit;
and a database whose ids went backwards (restored, or truncated in tests) triggers a rebuild.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from moderation.pdq_index import IndexFormatError, PdqIndex, hex_to_bytes

log = logging.getLogger(__name__)

LoadAfter = Callable[[Session, int, int], tuple[Sequence[int], Sequence[str]]]
MaxId = Callable[[Session], int | None]

# Rows read from the database per query while catching up or building.
_BATCH = 50_000


@dataclass(frozen=True)
class IndexSource:
    """Where an index's rows come from. `rebuild_delta` is the delta size at which a process
    writes a fresh base from the database (so no process scans a huge delta)."""

    load_after: LoadAfter
    max_id: MaxId
    rebuild_delta: int = 50_000


class RefreshingIndex:
    """One process's view of a PdqIndex in `directory`. Thread-safe (searches are serialised)."""

    def __init__(self, directory: Path, source: IndexSource) -> None:
        self.directory = Path(directory)
        self.source = source
        self._index: PdqIndex | None = None
        self._lock = threading.Lock()

    def search(
        self, session: Session, hashes: Sequence[str], max_distance: int
    ) -> list[list[tuple[int, int]]]:
        """Catch up with the database, then search: per query hash, [(row id, distance)]."""
        if not hashes:
            return []
        queries = [hex_to_bytes(value) for value in hashes]
        with self._lock:
            index = self._current(session)
            return index.search(queries, max_distance)

    def _current(self, session: Session) -> PdqIndex:
        index = self._index
        if index is None:
            index = self._open_or_build(session)
        else:
            try:
                index.refresh()
            except IndexFormatError:
                # A base this code cannot read (written by another release during a rolling
                # upgrade, or damaged): build our own from the database rather than fail jobs.
                log.warning("index %s: unreadable new base; rebuilding", self.directory.name)
                index = self._build(session)
        # New rows past the high-water id prove the table is not behind the index, so the
        # max(id) check (a second query on every search) is only needed when there are none.
        if not self._catch_up(session, index):
            newest = self.source.max_id(session) or 0
            if newest < (index.high_water_id or 0):
                # The database is not the one this index was built from (restored or reset).
                log.warning("index %s is ahead of its table; rebuilding", self.directory.name)
                index = self._build(session)
        if index.delta_size > self.source.rebuild_delta:
            index = self._rebuild_if_free(session, index)
        self._index = index
        return index

    def _open_or_build(self, session: Session) -> PdqIndex:
        try:
            return PdqIndex.open(self.directory)
        except IndexFormatError:
            return self._build(session)

    def _catch_up(self, session: Session, index: PdqIndex) -> int:
        """Add the rows past the index's high-water id; returns how many."""
        after = index.high_water_id or 0
        added = 0
        while True:
            ids, hashes = self.source.load_after(session, after, _BATCH)
            if not ids:
                return added
            index.add(np.asarray(ids, dtype=np.int64), [hex_to_bytes(h) for h in hashes])
            added += len(ids)
            after = int(ids[-1])
            if len(ids) < _BATCH:
                return added

    def _build(self, session: Session) -> PdqIndex:
        all_ids: list[int] = []
        all_hashes: list[bytes] = []
        after = 0
        while True:
            ids, hashes = self.source.load_after(session, after, _BATCH)
            all_ids.extend(int(i) for i in ids)
            all_hashes.extend(hex_to_bytes(h) for h in hashes)
            if len(ids) < _BATCH:
                break
            after = int(ids[-1])
        matrix = (
            np.frombuffer(b"".join(all_hashes), dtype=np.uint8).reshape(-1, 32)
            if all_hashes
            else np.zeros((0, 32), dtype=np.uint8)
        )
        return PdqIndex.build(
            self.directory,
            np.asarray(all_ids, dtype=np.int64),
            matrix,
            high_water_id=max(all_ids) if all_ids else 0,
        )

    def _rebuild_if_free(self, session: Session, index: PdqIndex) -> PdqIndex:
        with _try_lock(self.directory / ".rebuild.lock") as acquired:
            if not acquired:
                return index  # another process is writing a new base; we will pick it up
            return self._build(session)


@contextmanager
def _try_lock(path: Path) -> Iterator[bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


_processes: dict[tuple[int, Path], RefreshingIndex] = {}
_processes_lock = threading.Lock()


def process_index(directory: Path, source: IndexSource) -> RefreshingIndex:
    """This process's RefreshingIndex for `directory` (a forked child gets its own)."""
    key = (os.getpid(), Path(directory))
    found = _processes.get(key)
    if found is not None:
        return found
    with _processes_lock:
        for stale in [k for k in _processes if k[0] != key[0]]:
            del _processes[stale]
        return _processes.setdefault(key, RefreshingIndex(Path(directory), source))
