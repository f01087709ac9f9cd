"""Creating PostgreSQL databases next to a configured one (tests' per-worker databases, benches).

Not used by the app itself: production databases are created by the operator.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text


def sibling_database(url: str, name: str, *, recreate: bool = False) -> str:
    """The URL of database `name` on the same server as `url`, created if missing (dropped and
    created afresh with `recreate`). `name` must come from code, never from user input."""
    base, _, current = url.rpartition("/")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if recreate:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{base}/{name}"
