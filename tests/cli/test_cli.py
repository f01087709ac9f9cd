"""The `moderation` command's contracts: JSON output for scripts."""

from __future__ import annotations

import json

from moderation.intake.signatures import secret_key_bytes


def test_platform_add_json(app, runner):
    result = runner.invoke(args=["platform", "add", "acme", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["slug"] == "acme" and doc["api_token"]
    assert (
        doc["webhook_secret"].startswith("whsec_")
        and len(secret_key_bytes(doc["webhook_secret"])) == 24
    )


def test_platform_add_duplicate_fails_clearly(app, runner):
    runner.invoke(args=["platform", "add", "acme", "--json"])
    result = runner.invoke(args=["platform", "add", "acme", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["error"] == "conflict"


MASTODON_SECRET = "a-long-typed-mastodon-secret-0192"


def test_mastodon_platform_needs_secret(app, runner):
    result = runner.invoke(args=["platform", "add", "masto", "--kind", "mastodon", "--json"])
    assert result.exit_code == 1 and "secret" in json.loads(result.output)["message"]
    ok = runner.invoke(
        args=[
            "platform",
            "add",
            "masto",
            "--kind",
            "mastodon",
            "--secret",
            MASTODON_SECRET,
            "--json",
        ]
    )
    assert json.loads(ok.output)["webhook_secret"] == MASTODON_SECRET


def test_user_add_json_with_password_stdin(app, runner):
    result = runner.invoke(
        args=["user", "add", "Lead@Example.org", "--role", "senior", "--password-stdin", "--json"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["email"] == "lead@example.org" and doc["role"] == "senior"
    assert doc["totp_uri"].startswith("otpauth://totp/") and "secret=" in doc["totp_uri"]


def test_user_add_short_password_refused(app, runner):
    result = runner.invoke(
        args=["user", "add", "x@example.org", "--role", "admin", "--password-stdin", "--json"],
        input="short\n",
    )
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["error"] == "invalid_input" and "at least 12 characters" in doc["message"]


def test_unknown_queue_is_refused(app, runner):
    result = runner.invoke(args=["worker", "nope", "--burst"])
    assert result.exit_code != 0 and "unknown queue" in result.output


def test_worker_log_level_is_checked_and_applied(app, runner, redis, monkeypatch):
    from rq import SimpleWorker

    levels = []
    monkeypatch.setattr(SimpleWorker, "work", lambda self, **kw: levels.append(kw))
    assert runner.invoke(args=["worker", "--burst", "--log-level", "warning"]).exit_code == 0
    assert levels == [{"burst": True, "logging_level": "WARNING", "with_scheduler": True}]
    result = runner.invoke(args=["worker", "--log-level", "LOUD"])
    assert result.exit_code != 0 and "LOUD" in result.output


def test_cron_once_enqueues_sweep_once_per_period(app, runner, redis):
    assert runner.invoke(args=["cron", "--once"]).exit_code == 0
    assert runner.invoke(args=["cron", "--once"]).exit_code == 0
    from moderation.core.scheduling import periodic_jobs

    expected = sum(1 for spec, _ in periodic_jobs(app.config) if spec.queue == "maintenance")
    assert expected >= 2  # at least the sweeper and the audit sealer
    assert redis.llen("rq:queue:maintenance") == expected  # each once, not twice


def test_audit_verify_seals_and_detects_tampering(app, runner):
    from sqlalchemy import update

    from models import AuditEvent
    from moderation.core.db import db

    runner.invoke(args=["platform", "add", "acme", "--json"])
    result = runner.invoke(args=["audit", "verify", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["ok"] and doc["events"] >= 1 and doc["unsealed"] == 0
    with app.app_context():
        db.session.execute(update(AuditEvent).values(action="tampered"))
        db.session.commit()
    broken = runner.invoke(args=["audit", "verify", "--json"])
    assert (
        broken.exit_code == 1 and json.loads(broken.output)["problem"] == "this event was altered"
    )


def test_worker_queue_groups(app, runner, redis, monkeypatch):
    import pytest
    from rq import SimpleWorker

    from moderation.core.queueing import QUEUE_NAMES, worker_queue_names

    assert worker_queue_names([]) == QUEUE_NAMES
    assert worker_queue_names(["triage"]) == ("triage_urgent", "triage")
    assert worker_queue_names(["maintenance", "triage", "triage_urgent"]) == (
        "maintenance",
        "triage_urgent",
        "triage",
    )
    with pytest.raises(ValueError):
        worker_queue_names(["triage", "nope"])
    served = []
    monkeypatch.setattr(SimpleWorker, "work", lambda self, **kw: served.append(self.queue_names()))
    assert runner.invoke(args=["worker", "triage", "--burst"]).exit_code == 0
    assert served == [["triage_urgent", "triage"]]
