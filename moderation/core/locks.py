"""Database idioms every domain shares: a transaction-scoped lock by name, and the dialect's
INSERT (for ON CONFLICT DO NOTHING) on PostgreSQL and SQLite alike.

PostgreSQL gets an advisory transaction lock, released at commit or rollback. SQLite has one
writer at a time, so a no-op write statement takes its database write lock until commit; that
also keeps a read-first transaction from failing to upgrade once another writer committed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

# One key per lock; the hex spells the name, so a key seen in pg_locks says whose it is.
AUDIT_CHAIN = 0x6D6F64617564  # "modaud": sealing the audit chain
BANK_ENTRY_WRITES = 0x62616E6B656E  # "banken": transactions that insert bank entries
CLUSTERS = 0x6D6F64636C75  # "modclu": matching and joining clusters


def lock_for_transaction(session: Session, key: int, sqlite_table: Table | None = None) -> None:
    """Hold the lock `key` until this transaction ends. Call it as the transaction's first
    statement. On SQLite, `sqlite_table` names a table for the no-op write that takes the
    database write lock; without one, SQLite's own serialisation of writers is relied on."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif dialect == "sqlite" and sqlite_table is not None:
        # A write that matches nothing: SQLite takes the write lock for it all the same.
        column = next(iter(sqlite_table.primary_key.columns))
        session.execute(sqlite_table.update().where(text("1 = 0")).values({column: column}))


def insert_for(session: Session, table: Any) -> Any:
    """`table`'s INSERT in this session's dialect, which has `on_conflict_do_nothing`."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(table)
