"""Backups are tested by restoring them (docs/DEPLOY.md's procedure, run as written): a system
with triaged reports, a decision and an open case is backed up (pg_dump of PostgreSQL,
`moderation media migrate --to` a backup folder for the media store), restored into a new
database and store, and the restored system is whole: the audit chain verifies, every original
reads back and hashes to its address, and the case's evidence package exports and verifies."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError

from models import Base, Case, Media, Report
from moderation.audit import events as audit
from moderation.cases.actor import Actor
from moderation.cases.evidence import export_case
from moderation.cases.opening import open_case
from moderation.cases.signing import EvidenceSigner, new_signing_key
from moderation.cases.summary import summary_renderer
from moderation.core.db import db
from moderation.media.store import media_store_for
from moderation.settings import settings_for
from tests.cases.case_factories import escalate, fast_triage, triaged_cluster
from tests.factories import make_user
from tests.faults.harness import make_app

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _database(name: str) -> str:
    from moderation.core.dbadmin import sibling_database

    try:
        return sibling_database(PG, name, recreate=True)
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is needed: {exc.orig}")


def _drop(*urls: str) -> None:
    engine = create_engine(PG, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for url in urls:
            connection.exec_driver_sql(
                f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)'
            )
    engine.dispose()


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_a_backup_restores_into_a_whole_system(redis_url, tmp_path: Path) -> None:
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump and pg_restore (postgresql-client) are needed")
    tag = uuid.uuid4().hex[:8]
    source_url, restored_url = _database(f"test_backup_{tag}"), _database(f"test_restore_{tag}")
    try:
        app = make_app(source_url, redis_url, tmp_path / "live")
        app.config["EVIDENCE_SIGNING_KEY"] = new_signing_key()
        engine = create_engine(source_url)
        Base.metadata.create_all(engine)
        engine.dispose()
        fast_triage(app, tmp_path)
        senior = make_user(app, "lead@example.org", "senior")
        ids = triaged_cluster(app, app.test_client())
        escalate(app, ids[0], senior, "her school is named", cluster=True)
        with app.app_context():
            case = open_case(
                db.session, ids, "ncii", actor=Actor.cli(), settings=settings_for(app).cases
            )
            audit.seal_pending(db.session)
            db.session.commit()
            number = case.number

        # The backup: the database, then the media store (a copy verified object by object).
        dump = tmp_path / "moderation.dump"
        subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", _libpq(source_url)],
            check=True,
        )
        backup_media = tmp_path / "backup-media"
        copied = app.test_cli_runner().invoke(
            args=["media", "migrate", "--to", f"file://{backup_media}", "--json"]
        )
        assert copied.exit_code == 0, copied.output
        assert json.loads(copied.output.strip().splitlines()[-1])["failed"] == 0

        # The restore, into a new database and a new store, as on a replacement host.
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq(restored_url)}",
             str(dump)],
            check=True,
        )  # fmt: skip
        restored_media = tmp_path / "restored-media"
        shutil.copytree(backup_media, restored_media)
        restored = make_app(restored_url, redis_url, tmp_path / "restored")
        restored.config.update(
            MEDIA_DIR=str(restored_media),
            EVIDENCE_SIGNING_KEY=app.config["EVIDENCE_SIGNING_KEY"],
        )
        with restored.app_context():
            assert audit.verify_chain(db.session).ok
            assert db.session.execute(select(func.count()).select_from(Report)).scalar_one() == 3
            store = media_store_for(restored.config)
            keys = db.session.execute(select(Media.storage_key)).scalars().all()
            assert keys and all(store.get(key) for key in keys)  # get re-checks each SHA-256
            case_id = db.session.execute(select(Case.id).where(Case.number == number)).scalar_one()
            package = export_case(
                db.session, store, case_id, actor=Actor.cli(),
                settings=settings_for(restored).cases,
                signer=EvidenceSigner.from_config(restored.config),
                render_summary=summary_renderer(restored.jinja_env),
            )  # fmt: skip
        assert package.missing_media_ids == []
        (tmp_path / "case.zip").write_bytes(package.data)
        verified = restored.test_cli_runner().invoke(
            args=["evidence", "verify", str(tmp_path / "case.zip"), "--json"]
        )
        assert verified.exit_code == 0, verified.output
    finally:
        _drop(source_url, restored_url)
