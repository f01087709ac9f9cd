"""Triage heartbeats: how the sweeper tells a report whose worker died from one still being
worked on, in seconds rather than after the fixed stale limit.

While a triage job runs, a thread stamps `reports.triage_heartbeat_at` every `every` seconds on
its own short transactions (a separate connection, so the job's own transaction is untouched).
A report `triaging` whose last heartbeat (or, before the first, its start) is older than the
sweeper's `dead_after` lost its worker: the sweeper gives it back (`received`, guarded by that
same condition) and enqueues it again. The heartbeat lives in the database, not Redis, so a
Redis restart does not make live work look dead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from models import Report, ReportStatus, utcnow

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0


def beat(engine: Engine, report_id: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(Report)
            .where(Report.id == report_id, Report.status == ReportStatus.TRIAGING)
            .values(triage_heartbeat_at=utcnow())
        )


@contextmanager
def heartbeat(engine: Engine, report_id: int, every: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """Keep `report_id`'s heartbeat fresh while the block runs."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every):
            try:
                beat(engine, report_id)
            except SQLAlchemyError as exc:  # the database blinked: the next beat retries
                log.warning(
                    "triage heartbeat of report %s missed: %s", report_id, type(exc).__name__
                )

    thread = threading.Thread(target=run, name=f"triage-heartbeat-{report_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every)
