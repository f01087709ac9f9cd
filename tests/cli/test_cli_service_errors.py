"""Every `moderation` command ends a missing schema or an unreachable database or Redis with one
sentence and exit 1, never a traceback (handled once, in the CLI group)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from moderation.core.localservices import free_port

MODERATION = str(Path(sys.executable).parent / "moderation")


def _moderation(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MODERATION_")}
    env.update({f"MODERATION_{key}": value for key, value in settings.items()})
    env.setdefault("MODERATION_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    env.setdefault("MODERATION_MEDIA_DIR", str(tmp_path / "media"))
    return subprocess.run(
        [MODERATION, *args],
        cwd=tmp_path,
        env=env,
        input="a-long-enough-password-1\n",
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_sentence(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    [line] = result.stderr.strip().splitlines()
    return line


@pytest.mark.parametrize(
    "args, table",
    [
        (["platform", "add", "acme", "--json"], "platforms"),
        (
            ["user", "add", "a@example.org", "--role", "admin", "--password-stdin", "--json"],
            "users",
        ),
        (["bank", "list", "--json"], "banks"),
        (["audit", "verify", "--json"], "audit_events"),
    ],
)
def test_a_database_without_the_schema_says_to_run_db_upgrade(tmp_path, args, table):
    line = _one_sentence(_moderation(tmp_path, *args))
    assert "run `moderation db upgrade`" in line and repr(table) in line


def test_an_unreachable_database_is_one_sentence_without_its_password(tmp_path):
    url = f"postgresql+psycopg://someone:s3cret-pw@127.0.0.1:{free_port()}/nothing"
    line = _one_sentence(_moderation(tmp_path, "platform", "add", "acme", DATABASE_URL=url))
    assert "cannot use the database" in line and "MODERATION_DATABASE_URL" in line
    assert "s3cret-pw" not in line


def test_an_unreachable_redis_is_one_sentence_without_its_password(tmp_path):
    assert _moderation(tmp_path, "db", "upgrade").returncode == 0
    url = f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0"
    line = _one_sentence(_moderation(tmp_path, "worker", "--burst", REDIS_URL=url))
    assert "cannot reach Redis" in line and "MODERATION_REDIS_URL" in line
    assert "s3cret-pw" not in line
