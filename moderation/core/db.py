"""The database engine and a session per request, job or command.

Plain SQLAlchemy 2 (no Flask-SQLAlchemy) so models stay free of Flask and workers can use the same
session factory. Nothing connects until the first query.
"""

from __future__ import annotations

import logging
import select
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, scoped_session, sessionmaker

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the web server read while a worker writes; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def _drop_if_server_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool checkout hook: raise DisconnectionError (the pool discards the connection and checks
    out another, up to three times) if the server has closed this idle pooled connection.

    An idle connection in the pool has nothing to read; anything readable is the server's EOF
    or a FATAL notice before it hangs up. A spurious hit only costs one reconnect.
    """
    if dbapi_connection.closed or select.select([dbapi_connection.fileno()], [], [], 0)[0]:
        raise DisconnectionError("the server closed this pooled connection")


def make_engine(url: str) -> Engine:
    """An engine for `url`, with SQLite tuned for one web process and a few workers.

    `hide_parameters`: a database error's message (logged, or shown in a traceback) never carries
    the bound values, which are report text, contact data and hashes.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 15}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No pool_pre_ping: its SELECT 1 cost a round trip on every checkout (every request). A
    # connection the server has closed (restart, idle kill, terminated backend) has its EOF or
    # FATAL message waiting on the socket, so a zero-timeout poll finds it without a round trip
    # and the pool replaces it. pool_recycle bounds how long a connection can sit unnoticed
    # behind a middlebox that drops it silently.
    engine = create_engine(
        url, pool_size=5, max_overflow=10, pool_recycle=1800, hide_parameters=True
    )
    event.listen(engine, "checkout", _drop_if_server_closed)
    return engine


class Database:
    """Binds an engine and a scoped session to an app; `db.session` is the current session."""

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        app.extensions["moderation.db"] = (engine, scoped_session(factory))

        @app.teardown_appcontext
        def _remove_session(_exc: BaseException | None) -> None:
            sessions = app.extensions["moderation.db"][1]
            try:
                sessions.remove()
            except DBAPIError as exc:
                # The database went away mid-request: closing rolls back on a connection that is
                # gone. The answer (a 503 from the error handler) is made already and must still
                # be sent; the pool has discarded the connection. Forget the session regardless.
                sessions.registry.clear()
                log.warning("database session cleanup failed: %s", type(exc.orig).__name__)

    @property
    def engine(self) -> Engine:
        return current_app.extensions["moderation.db"][0]

    @property
    def session(self) -> Session:
        return current_app.extensions["moderation.db"][1]()

    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"


db = Database()
