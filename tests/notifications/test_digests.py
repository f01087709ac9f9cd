"""Digests through a real SMTP server: they arrive as valid MIME with both parts, in the
recipient's language, carrying no reported text, name, handle, phone number or image; each
period is delivered once (twice `digest send --now`, two cron rounds racing, a refused send
retried); the unsubscribe link works signed out and a forged one is refused."""

from __future__ import annotations

import base64
import json
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from models import ExposureDay, MailState, OutgoingMail
from moderation.core.db import db
from moderation.core.redis_conn import get_redis
from moderation.notifications import digests, outbox
from moderation.settings import settings_for
from tests.factories import run_worker_burst
from tests.notifications.notify_factories import SENSITIVE, build_world, set_preferences


@pytest.fixture
def world(mail_app, client):
    return build_world(mail_app, client)


def _send_now(runner) -> dict:
    result = runner.invoke(args=["digest", "send", "--now", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _by_recipient(mailbox) -> dict[str, list]:
    found: dict[str, list] = {}
    for item, message in zip(mailbox.received, mailbox.messages(), strict=True):
        found.setdefault(item["to"][0], []).append(message)
    return found


def _texts(message) -> tuple[str, str]:
    return (
        message.get_body(("plain",)).get_content(),
        message.get_body(("html",)).get_content(),
    )


def _assert_nothing_sensitive(message) -> None:
    raw = message.as_string()
    text, html = _texts(message)
    for secret in SENSITIVE:
        for where in (raw, text, html):
            assert secret not in where, secret
    assert not [part for part in message.walk() if part.get_content_maintype() == "image"]
    assert not [part for part in message.walk() if part.get_filename()]


def test_digests_arrive_in_the_recipients_language_and_say_nothing_sensitive(
    mail_app, runner, mailbox, world
):
    summary = _send_now(runner)
    assert len(summary["recorded"]) == 3  # two liaisons and the subscribed senior
    run_worker_burst(mail_app)

    inbox = _by_recipient(mailbox)
    assert sorted(inbox) == [
        "liaison.en@example.org",
        "liaison.ko@example.org",
        "senior@example.org",
    ]
    assert all(len(messages) == 1 for messages in inbox.values())
    assert mailbox.tls_seen and all(mailbox.tls_seen)
    for messages in inbox.values():
        message = messages[0]
        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
        _assert_nothing_sensitive(message)
        assert message["List-Unsubscribe"].startswith("<https://moderation.example/unsubscribe/")

    korean = inbox["liaison.ko@example.org"][0]
    text, html = _texts(korean)
    assert "신고 검토 요약" in str(korean["Subject"])
    assert world.case_number in text and world.case_number in html
    assert "나에게 배정됨" in text  # the case is theirs
    assert f"요청 #{world.request_id}" in text  # due within 24 hours
    assert "(Asia/Seoul)" in text
    assert f"https://moderation.example/cases/{world.case_id}" in text
    assert "Moderation digest" not in text

    english = inbox["liaison.en@example.org"][0]
    text, _ = _texts(english)
    assert "Moderation digest" in str(english["Subject"])
    # Another liaison's case is not theirs to know, nor its police request.
    assert world.case_number not in english.as_string()
    assert f"Request #{world.request_id}" not in text

    senior_text, _ = _texts(inbox["senior@example.org"][0])
    assert "Oldest waiting item" in senior_text or "Nothing needs you" in senior_text
    assert world.case_number not in senior_text  # seniors get the queue digest only

    # The Message-ID of each is the one recorded before it was sent.
    with mail_app.app_context():
        ids = set(db.session.execute(select(OutgoingMail.message_id)).scalars())
    assert {message["Message-ID"] for messages in inbox.values() for message in messages} == ids


def test_two_runs_in_a_row_deliver_once(mail_app, runner, mailbox, world):
    first = _send_now(runner)
    second = _send_now(runner)
    assert len(first["recorded"]) == 3
    assert second["recorded"] == [] and second["skipped"] == 3
    run_worker_burst(mail_app)
    assert len(mailbox.received) == 3
    assert _send_now(runner)["recorded"] == []


def test_two_cron_processes_racing_deliver_once(mail_app, mailbox, world):
    # 09:05 in Seoul: the Korean liaison's daily slot (the others' slots are UTC 09:00).
    moment = datetime(2026, 12, 4, 0, 5, tzinfo=UTC)
    results: list[digests.RoundResult] = []
    barrier = threading.Barrier(2)

    def cron_round() -> None:
        with mail_app.app_context():
            settings = settings_for(mail_app).notifications
            barrier.wait()
            result = digests.send_round(db.session, settings, now=moment)
            outbox.dispatch(db.session, get_redis(), settings, result.recorded)
            results.append(result)

    threads = [threading.Thread(target=cron_round) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 2
    assert sorted(len(result.recorded) for result in results) in ([0, 1], [1, 0])
    run_worker_burst(mail_app)
    assert [item["to"] for item in mailbox.received] == [["liaison.ko@example.org"]]

    # Later in the same slot nothing is due; past the grace period the slot is not sent late.
    with mail_app.app_context():
        settings = settings_for(mail_app).notifications
        again = digests.send_round(db.session, settings, now=moment + timedelta(minutes=30))
        assert again.recorded == [] and again.already == 1
        late = digests.send_round(db.session, settings, now=moment + timedelta(hours=5))
        assert late.recorded == []
        # 09:05 UTC: the others' slots. They have nothing to say: recorded, not sent.
        others = digests.send_round(db.session, settings, now=moment + timedelta(hours=9))
        assert others.recorded == [] and others.skipped == 2


def test_twice_daily_and_off(mail_app, world):
    set_preferences(mail_app, world.liaison_ko_id, digest_schedule="twice_daily", language="ko")
    set_preferences(mail_app, world.liaison_en_id, digest_schedule="off")
    set_preferences(mail_app, world.senior_id, digest_schedule="off", queue_digest=True)
    morning = datetime(2026, 12, 4, 9, 1, tzinfo=UTC)
    with mail_app.app_context():
        settings = settings_for(mail_app).notifications
        assert len(digests.send_round(db.session, settings, now=morning).recorded) == 1
        afternoon = morning.replace(hour=17)
        assert len(digests.send_round(db.session, settings, now=afternoon).recorded) == 1
        rows = db.session.execute(select(OutgoingMail).order_by(OutgoingMail.id)).scalars().all()
        assert [row.user_id for row in rows] == [world.liaison_ko_id] * 2
        # The afternoon digest covers from where the morning one ended.
        assert rows[1].covers_from == rows[0].covers_until == morning


def test_a_refused_digest_is_retried_and_delivered_once(mail_app, runner, mailbox, world):
    set_preferences(mail_app, world.liaison_en_id, digest_schedule="off")
    set_preferences(mail_app, world.senior_id, digest_schedule="off")
    mailbox.refuse_next = ["451 4.3.0 Mailbox busy, try again"]
    recorded = _send_now(runner)["recorded"]
    assert len(recorded) == 1
    run_worker_burst(mail_app)
    assert [item["to"] for item in mailbox.received] == [["liaison.ko@example.org"]]
    with mail_app.app_context():
        row = db.session.get(OutgoingMail, recorded[0])
        assert (row.state, row.attempts) == (MailState.SENT, 2)


def test_an_uncertain_digest_is_not_sent_again(mail_app, runner, mailbox, world, monkeypatch):
    """The connection breaks after the body went out: the server may have the digest, so it
    is not sent again (at most once per period); the next digest covers its window."""
    from moderation.notifications import mailer

    set_preferences(mail_app, world.liaison_en_id, digest_schedule="off")
    set_preferences(mail_app, world.senior_id, digest_schedule="off")

    def broken(*args, **kwargs):
        raise mailer.MailUncertain("connection lost during DATA: SMTPServerDisconnected")

    monkeypatch.setattr(mailer, "send", broken)
    first = _send_now(runner)["recorded"]
    run_worker_burst(mail_app)
    with mail_app.app_context():
        row = db.session.get(OutgoingMail, first[0])
        assert row.state == MailState.UNCERTAIN and row.attempts == 1
        covered_from = row.covers_from
    monkeypatch.undo()
    run_worker_burst(mail_app)
    assert mailbox.received == []
    second = _send_now(runner)["recorded"]
    run_worker_burst(mail_app)
    assert len(mailbox.received) == 1
    with mail_app.app_context():
        # The digest after it covers its window too.
        assert db.session.get(OutgoingMail, second[0]).covers_from <= covered_from


def _unsubscribe_link(message) -> str:
    text, _ = _texts(message)
    return re.search(r"https://moderation\.example(/unsubscribe/\S+)", text).group(1)


def test_unsubscribe_link_works_signed_out_and_forgeries_are_refused(
    mail_app, runner, mailbox, world
):
    _send_now(runner)
    run_worker_burst(mail_app)
    path = _unsubscribe_link(_by_recipient(mailbox)["liaison.ko@example.org"][0])
    stranger = mail_app.test_client()  # signed out

    page = stranger.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "liaison.ko@example.org" not in html
    # The token names no account: its payload is a random key, signed.
    payload = path.rsplit("/", 1)[-1].split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert b"@" not in decoded and b"liaison" not in decoded
    assert json.loads(decoded) not in (world.liaison_ko_id, str(world.liaison_ko_id))

    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert stranger.get(forged).status_code == 404
    assert stranger.post(forged).status_code == 404
    from itsdangerous import URLSafeSerializer

    other_key = URLSafeSerializer("not-our-secret", salt="moderation-queue/unsubscribe")
    assert stranger.post("/unsubscribe/" + other_key.dumps("x" * 32)).status_code == 404

    # One-click (RFC 8058): a POST without a CSRF token, as a mail client sends it.
    done = stranger.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "liaison.ko@example.org" not in done.get_data(as_text=True)
    with mail_app.app_context():
        from moderation.notifications import preferences

        prefs = preferences.get(
            db.session, world.liaison_ko_id, settings_for(mail_app).notifications
        )
        assert prefs.digest_schedule == "off" and prefs.urgent_alerts
    # Unsubscribed: the next round has nothing for them.
    mailbox.received.clear()
    _send_now(runner)
    run_worker_burst(mail_app)
    assert "liaison.ko@example.org" not in _by_recipient(mailbox)


def test_queue_digest_for_seniors(mail_app, client, mailbox, world):
    """Overdue items per category, the oldest waiting item, escalations waiting for a case and
    wellness caps, seen 30 hours on (past the 24-hour NCII deadline)."""
    from models import utcnow
    from moderation.review import wellness
    from tests.cases.case_factories import escalate
    from tests.notifications.notify_factories import sensitive_report

    waiting = sensitive_report(mail_app, client, 311, world.platform)
    escalated = sensitive_report(mail_app, client, 312, world.platform, category="doxxing")
    escalate(mail_app, escalated, world.moderator_id, "posted her address")
    mail_app.config["WELLNESS_DAILY_REVEALS"] = 2
    with mail_app.app_context():
        wellness_settings = settings_for(mail_app).wellness
        for _ in range(2):
            wellness.count_reveal(db.session, world.moderator_id, wellness_settings)
        settings = settings_for(mail_app).notifications
        later = utcnow() + timedelta(hours=30)
        # The digest covers the 24 hours before `later`, which hold today only before 18:00
        # UTC: the cap reached today is moved to `later`'s day, inside the window.
        db.session.execute(update(ExposureDay).values(day=later.astimezone(UTC).date()))
        db.session.commit()
        result = digests.send_round(db.session, settings, now=later, on_demand=True)
        outbox.dispatch(db.session, get_redis(), settings, result.recorded)
    run_worker_burst(mail_app)

    senior = _by_recipient(mailbox)["senior@example.org"][0]
    _assert_nothing_sensitive(senior)
    text, html = _texts(senior)
    assert "Queue items past their deadline (1)" in text
    assert "- NCII: 1" in text  # per category, by its label
    assert f"Report #{waiting}" in text  # the oldest waiting item
    assert "Escalations waiting for a case (1)" in text and f"#{escalated}" in text
    assert "Moderators at their daily wellness limit: 1" in text
    assert f"https://moderation.example/review/{waiting}" in html
