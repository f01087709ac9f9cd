"""Migrations: one head; upgrading an empty PostgreSQL matches the models exactly."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from models import Base
from moderation.core.migrations import alembic_config, upgrade

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def test_single_head():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def _no_differences(url: str) -> list:
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    return diff


# SQLite cannot reflect expression indexes (`priority DESC`), so Alembic sees them as missing
# on both sides; PostgreSQL's comparison below covers them.
SQLITE_UNREFLECTABLE = {"ix_reports_open_order"}


def _index_name(diff) -> str | None:
    if diff and diff[0] in ("add_index", "remove_index"):
        return getattr(diff[1], "name", None)
    return None


def test_upgrade_empty_sqlite_matches_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    upgrade(url)
    diff = [d for d in _no_differences(url) if _index_name(d) not in SQLITE_UNREFLECTABLE]
    assert diff == []
    assert SQLITE_UNREFLECTABLE <= _sqlite_index_names(url)  # created, just not reflectable


def _sqlite_index_names(url: str) -> set[str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))
        names = {row[0] for row in rows}
    engine.dispose()
    return names


def test_upgrade_empty_postgresql_matches_models():
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"mq_migrate_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required for this test: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        assert _no_differences(url) == []
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
