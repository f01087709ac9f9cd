"""Mail through a real SMTP server (STARTTLS and AUTH required): MIME with a text and an HTML
part, the recorded Message-ID, retries after a refusal, failure on the job-health page."""

from __future__ import annotations

import logging

import pytest
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from models import MailState, OutgoingMail
from moderation.core.db import db
from moderation.core.queueing import queue
from moderation.core.redis_conn import get_redis
from moderation.notifications import account_mail, outbox
from moderation.notifications.mailer import SmtpSettings
from moderation.settings import settings_for
from tests.factories import make_user, run_worker_burst


def _password_notice(app, user_id: int) -> int:
    with app.app_context():
        settings = settings_for(app).notifications
        mail_id = account_mail.notify_password_changed(db.session, settings, user_id)
        outbox.send_soon(get_redis(), settings, mail_id)
        return mail_id


def _row(app, mail_id: int) -> OutgoingMail:
    with app.app_context():
        row = db.session.get(OutgoingMail, mail_id)
        db.session.expunge(row)
        return row


def test_smtp_urls():
    plain = SmtpSettings.from_url("smtp://relay.internal")
    assert (plain.host, plain.port, plain.security, plain.username) == (
        "relay.internal", 25, "plain", None,
    )  # fmt: skip
    starttls = SmtpSettings.from_url("smtp+starttls://u%40x:p%3Aw@mail.example:2525", timeout=7)
    assert (starttls.port, starttls.security, starttls.username, starttls.password) == (
        2525, "starttls", "u@x", "p:w",
    )  # fmt: skip
    assert starttls.timeout == 7
    assert SmtpSettings.from_url("smtps://u:p@mail.example").port == 465
    with pytest.raises(ValueError, match="smtp\\+starttls"):
        SmtpSettings.from_url("smtp://u:secret@relay.internal")  # a password in the clear
    with pytest.raises(ValueError) as refused:
        SmtpSettings.from_url("http://u:secret@relay.internal")
    assert "secret" not in str(refused.value)


def test_message_arrives_as_mime_with_both_parts(mail_app, mailbox, caplog):
    user_id = make_user(mail_app, "owner@example.org", "moderator")
    caplog.set_level(logging.INFO)
    mail_id = _password_notice(mail_app, user_id)
    run_worker_burst(mail_app)

    assert len(mailbox.received) == 1
    assert mailbox.tls_seen == [True] and mailbox.auth_seen  # STARTTLS then AUTH
    assert mailbox.received[0]["to"] == ["owner@example.org"]
    message = mailbox.messages()[0]
    row = _row(mail_app, mail_id)
    assert row.state == MailState.SENT and row.attempts == 1
    assert message["Message-ID"] == row.message_id
    assert message.get_content_type() == "multipart/alternative"
    types = [part.get_content_type() for part in message.iter_parts()]
    assert types == ["text/plain", "text/html"]
    assert not [p for p in message.walk() if p.get_content_maintype() == "image"]
    assert message["Auto-Submitted"] == "auto-generated"
    assert "password" in message.get_body(("plain",)).get_content()
    # Our log lines (and RQ's) name the message, never the address (the test server's own
    # `mail.log` is not ours).
    logged = "\n".join(
        record.getMessage() for record in caplog.records if not record.name.startswith("mail.")
    )
    assert row.message_id in logged
    assert "owner@example.org" not in logged


def test_refused_send_is_retried_and_delivered_once(mail_app, mailbox):
    user_id = make_user(mail_app, "owner@example.org", "moderator")
    mailbox.refuse_next = ["451 4.3.0 Try again later"]
    mail_id = _password_notice(mail_app, user_id)
    run_worker_burst(mail_app)

    assert len(mailbox.received) == 1
    row = _row(mail_app, mail_id)
    assert row.state == MailState.SENT and row.attempts == 2
    # A second job for the same message (a dispatcher that lost track) sends nothing.
    with mail_app.app_context():
        settings = settings_for(mail_app).notifications
        from moderation.core.queueing import enqueue_mail

        enqueue_mail(get_redis(), mail_id, settings.retry_seconds)
    run_worker_burst(mail_app)
    assert len(mailbox.received) == 1


def test_refused_every_time_fails_visibly(mail_app, mailbox, client):
    user_id = make_user(mail_app, "owner@example.org", "moderator")
    mailbox.refuse_next = ["550 5.7.1 Rejected"] * 10
    mail_id = _password_notice(mail_app, user_id)
    run_worker_burst(mail_app)

    assert mailbox.received == []
    row = _row(mail_app, mail_id)
    assert row.state == MailState.FAILED and row.attempts == 4  # 1 + MAIL_RETRY_SECONDS
    assert row.last_error == "MailNotSent"
    with mail_app.app_context():
        failed = FailedJobRegistry(queue=queue("mail", get_redis()))
        assert failed.get_job_ids() == [f"mail-{mail_id}"]
        from moderation.review.dashboard import job_health

        health = job_health(get_redis())
    assert [(job.job_id, job.exception_type) for job in health.failed] == [
        (f"mail-{mail_id}", "MailNotSent")
    ]
    # The dispatcher leaves a failed message alone.
    with mail_app.app_context():
        settings = settings_for(mail_app).notifications
        assert outbox.dispatch(db.session, get_redis(), settings) == 0


def test_without_a_server_messages_wait(app):
    user_id = make_user(app, "owner@example.org", "moderator")
    mail_id = _password_notice(app, user_id)
    run_worker_burst(app)
    assert _row(app, mail_id).state == MailState.PENDING
    with app.app_context():
        assert db.session.execute(select(OutgoingMail.id)).scalars().all() == [mail_id]


# The test server warns that it allows AUTH without STARTTLS: for smtps:// it has TLS from the
# first byte, and the no-STARTTLS server is the point of its test.
AUTH_WITHOUT_STARTTLS = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@AUTH_WITHOUT_STARTTLS
def test_smtps_with_tls_from_the_first_byte(app, tmp_path):
    from tests.notifications.smtp_server import smtp_server

    with smtp_server(tmp_path, mode="tls") as box:
        assert box.url.startswith("smtps://")
        app.config.update(SMTP_URL=box.url, SMTP_CA_FILE=box.ca_file, MAIL_RETRY_SECONDS="0")
        user_id = make_user(app, "owner@example.org", "moderator")
        mail_id = _password_notice(app, user_id)
        run_worker_burst(app)
        assert [item["to"] for item in box.received] == [["owner@example.org"]]
        assert box.auth_seen
    assert _row(app, mail_id).state == MailState.SENT


@AUTH_WITHOUT_STARTTLS
def test_a_server_without_starttls_is_refused_not_used_in_the_clear(app, tmp_path):
    from tests.notifications.smtp_server import smtp_server

    with smtp_server(tmp_path, mode="no_tls") as box:
        app.config.update(SMTP_URL=box.url, SMTP_CA_FILE=box.ca_file, MAIL_RETRY_SECONDS="0")
        user_id = make_user(app, "owner@example.org", "moderator")
        mail_id = _password_notice(app, user_id)
        run_worker_burst(app)
        assert box.received == [] and box.auth_seen == []  # the password never went out
    row = _row(app, mail_id)
    assert row.state == MailState.FAILED and row.last_error == "MailNotSent"


def test_a_wrong_certificate_is_refused(app, tmp_path):
    from tests.notifications.smtp_server import make_certificate, smtp_server

    other = tmp_path / "other"
    other.mkdir()
    other_ca, _ = make_certificate(other)  # a CA that did not sign the server's certificate
    with smtp_server(tmp_path) as box:
        app.config.update(SMTP_URL=box.url, SMTP_CA_FILE=str(other_ca), MAIL_RETRY_SECONDS="0")
        user_id = make_user(app, "owner@example.org", "moderator")
        mail_id = _password_notice(app, user_id)
        run_worker_burst(app)
        assert box.received == [] and box.auth_seen == []
    assert _row(app, mail_id).state == MailState.FAILED


def test_an_invitation_that_expired_while_waiting_is_not_sent(mail_app, mailbox):
    from moderation.accounts import invitations

    admin_id = make_user(mail_app, "admin@example.org", "admin")
    mail_app.config["INVITE_TTL_HOURS"] = -1  # already expired when it is sent
    with mail_app.app_context():
        settings = settings_for(mail_app)
        issued = invitations.invite(
            db.session, settings.accounts, admin_id, "late@example.org", "liaison"
        )
        mail_id = account_mail.notify_invitation(
            db.session, settings.notifications, issued.user.id, issued.token
        )
        outbox.send_soon(get_redis(), settings.notifications, mail_id)
    run_worker_burst(mail_app)
    assert mailbox.received == []
    row = _row(mail_app, mail_id)
    assert row.state == MailState.SKIPPED and row.sealed is None


def test_digest_send_without_now_prints_json(mail_app, runner):
    import json

    result = runner.invoke(args=["digest", "send", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document == {"recorded": [], "skipped": 0, "already": 0, "enqueued": 0, "smtp": True}
