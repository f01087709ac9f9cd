"""Shared fixtures: a real database (SQLite by default, PostgreSQL with
MODERATION_TEST_DATABASE_URL), a real Redis (the local service, or a private redis-server started
here when none answers), the app, its test client and CLI runner."""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import text

from models import Base
from moderation import create_app
from moderation.core.db import make_engine
from moderation.core.redis_urls import connect

# Public reference vectors carried in the repository (tests/data/pdq: Meta's PDQ images and
# expected hashes, BSD licence), so the suite runs on a plain clone.
TESTDATA = Path(__file__).resolve().parent / "data"
TEST_MEDIA_KEY = base64.b64encode(bytes(range(32))).decode()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Anything touching the database runs once per backend; `make test` selects `-m db` for the
    # PostgreSQL pass.
    for item in items:
        if {"app", "db_engine"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2id with the cheapest parameters in tests: every sign-in, invitation and PIN still
    goes through real argon2 (the same code, the same verification), at about 1 ms instead of
    ~200 ms each, which was minutes of the suite. Production keeps the RFC 9106 profile; the
    parameters travel in each hash, so either hasher verifies the other's hashes."""
    from argon2 import PasswordHasher

    from moderation.accounts import passwords

    real = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    passwords.dummy_hash.cache_clear()
    yield
    passwords._hasher = real
    passwords.dummy_hash.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def _compiled_catalogues() -> None:
    from moderation.core.i18n import compile_catalogues

    compile_catalogues()


def _redis_answers(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:  # noqa: BLE001 - any failure means "not usable", we start our own
        return False


def _worker_index() -> int:
    """0 for a plain run, N for pytest-xdist's gwN: each parallel worker gets its own stores."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else 0


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The Redis the suite uses: MODERATION_TEST_REDIS_URL, the local service, or a private one.
    Each xdist worker uses its own database number so flushes do not collide."""
    base = os.environ.get("MODERATION_TEST_REDIS_URL", "redis://127.0.0.1:6379/8")
    prefix, _, number = base.rpartition("/")
    configured = f"{prefix}/{int(number or 0) + _worker_index()}"
    if _redis_answers(configured):
        yield configured
        return
    from moderation.core.localservices import start_redis_server

    workdir = tempfile.mkdtemp(prefix="moderation-redis-")
    try:
        process, port = start_redis_server(workdir)
    except (FileNotFoundError, RuntimeError) as exc:
        pytest.fail(f"no Redis answers and a private one could not start: {exc}")
    url = f"redis://127.0.0.1:{port}/{_worker_index()}"
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def _postgres_for_worker(url: str) -> str:
    """Parallel workers each get their own database next to the configured one."""
    from moderation.core.dbadmin import sibling_database

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return url
    return sibling_database(url, f"{url.rpartition('/')[2]}_{worker}")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    configured = os.environ.get("MODERATION_TEST_DATABASE_URL")
    if configured and configured.startswith("postgresql"):
        return _postgres_for_worker(configured)
    if configured:
        return configured
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def db_engine(database_url: str):
    engine = make_engine(database_url)
    Base.metadata.drop_all(engine)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _truncate(engine) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - names come from our metadata


@pytest.fixture
def app(db_engine, database_url: str, redis_url: str, tmp_path: Path):
    connect(redis_url).flushdb()
    application = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "MEDIA_KEY": TEST_MEDIA_KEY,
            "MEDIA_DIR": str(tmp_path / "media"),
            # A PDQ index per test: ids restart with every test's fresh tables.
            "BANK_INDEX_DIR": str(tmp_path / "pdq-index"),
            "SERVER_NAME": "localhost",
            "PREFERRED_URL_SCHEME": "http",
        }
    )
    from workers.context import set_app

    set_app(application)
    yield application
    application.extensions["moderation.db"][0].dispose()
    _truncate(db_engine)
    connect(redis_url).flushdb()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    from moderation.core.db import db

    with app.app_context():
        yield db.session


@pytest.fixture
def redis(app, redis_url: str) -> Redis:
    return connect(redis_url)
