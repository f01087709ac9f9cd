"""Fault: a worker is killed (SIGKILL, its whole process group) in the middle of a decision's
callback to the platform: the receiver has the request and has not answered. Once the dead
worker's lease (CALLBACK_LEASE_SECONDS) has passed, the cron's dispatch round hands the
delivery to another worker, which delivers it; the platform sees every attempt under one
webhook-id (so it acts once), and the delivery is recorded delivered exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import select

from models import CallbackDelivery, DeliveryState
from moderation.core.db import db
from moderation.outcomes.callback_admin import set_callback
from tests.factories import make_platform, post_report, report_body, run_worker_burst
from tests.faults.harness import (
    kill_group,
    start_command,
    start_worker_and_cron,
    wait_for,
    worker_env,
)
from tests.outcomes.outcome_factories import decide

LEASE = 20  # seconds; more than the callback timeout (15 s), as the settings require


@dataclass
class StallingReceiver:
    """Records every request; holds the first one unanswered until `release` is set."""

    seen: list[dict[str, str]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/moderation"


@contextmanager
def stalling_receiver() -> Iterator[StallingReceiver]:
    state = StallingReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server interface
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.seen.append({k.lower(): v for k, v in self.headers.items()})
            if len(state.seen) == 1:
                state.release.wait(120)  # the sender dies while we hold its request
            try:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the held request's sender is dead by now

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


def _deliveries(app) -> list[tuple[str, int]]:
    with app.app_context():
        rows = db.session.execute(select(CallbackDelivery.state, CallbackDelivery.attempts)).all()
        db.session.rollback()
    return [(str(state), attempts) for state, attempts in rows]


def test_a_callback_cut_off_by_a_worker_kill_is_delivered_once(
    app, client, database_url, redis_url, tmp_path
):
    platform = make_platform(app)
    report_id = post_report(client, platform, report_body()).get_json()["id"]
    run_worker_burst(app)  # triaged here: the report waits for a decision
    with stalling_receiver() as hook:
        settings = {
            "CALLBACK_ALLOW_HOSTS": f"127.0.0.1:{hook.port}",
            "CALLBACK_LEASE_SECONDS": LEASE,
            "CRON_CALLBACK_INTERVAL_SECONDS": 2,
        }
        app.config.update(settings)
        with app.app_context():
            set_callback(db.session, platform.slug, hook.url)
        first, cron = start_worker_and_cron(app, database_url, redis_url, tmp_path, **settings)
        second = None
        try:
            decide(app, report_id, "remove.ncii")  # final at once: the callback is queued
            wait_for(lambda: len(hook.seen) == 1, 60, "the first worker to call the platform")
            kill_group(first)  # mid-request: the platform has it, no answer came back
            env = worker_env(app, database_url, redis_url, **settings)
            second = start_command(["worker", "--log-level", "WARNING"], env, tmp_path / "w2.log")
            took = wait_for(
                lambda: _deliveries(app) == [(DeliveryState.DELIVERED.value, 1)],
                LEASE + 60,
                "the other worker to deliver the callback once the lease passed",
            )
            print(f"delivered {took:.1f} s after the kill (lease {LEASE} s)")
        finally:
            hook.release.set()
            kill_group(first)
            kill_group(cron)
            if second is not None:
                kill_group(second)
    assert len(hook.seen) == 2, "one cut-off attempt and one delivery"
    assert len({request["webhook-id"] for request in hook.seen}) == 1  # the platform dedupes


MAIL_LEASE = 12  # seconds; longer than SMTP_TIMEOUT below


def test_an_urgent_alert_cut_off_by_a_worker_kill_is_sent_again(
    app, client, database_url, redis_url, tmp_path
):
    """The SMTP server has the alert's DATA and has not answered when the worker dies: once the
    lease (MAIL_LEASE_SECONDS) has passed, the cron's alert round hands the message to another
    worker, which sends it again under the same Message-ID (an alert is sent at least once;
    mail clients fold the duplicate)."""
    from models import MailKind, MailState, OutgoingMail
    from tests.cases.case_factories import escalate
    from tests.factories import make_user
    from tests.notifications.notify_factories import open_case, sensitive_report
    from tests.notifications.smtp_server import smtp_server

    with smtp_server(tmp_path) as box:
        settings = {
            "SMTP_URL": box.url,
            "SMTP_CA_FILE": box.ca_file,
            "SMTP_TIMEOUT": 5,
            "MAIL_FROM": "Moderation queue <noreply@moderation.example>",
            "BASE_URL": "https://moderation.example",
            "MAIL_RETRY_SECONDS": "1,1,1",
            "MAIL_LEASE_SECONDS": MAIL_LEASE,
            "CRON_ALERT_INTERVAL_SECONDS": 2,
            "CRON_DIGEST_INTERVAL_SECONDS": 3600,
        }
        app.config.update(settings, CLASSIFIER_MODEL="", MEDIA_INDEX_DIR=str(tmp_path / "mi"))
        moderator = make_user(app, "mod@example.org", "moderator")
        make_user(app, "liaison@example.org", "liaison")
        report = sensitive_report(app, client, 401)
        escalate(app, report, moderator, "her address is posted")
        box.hold.set()
        first, cron = start_worker_and_cron(app, database_url, redis_url, tmp_path, **settings)
        second = None
        try:
            open_case(app, [report], urgency="immediate")  # the cron's alert round records it
            wait_for(lambda: len(box.held) == 1, 60, "the first worker to hand SMTP the alert")
            kill_group(first)  # DATA sent, no answer read: the server may have it
            box.hold.clear()
            env = worker_env(app, database_url, redis_url, **settings)
            second = start_command(["worker", "--log-level", "WARNING"], env, tmp_path / "w2.log")

            def sent() -> list[str]:
                with app.app_context():
                    states = (
                        db.session.execute(
                            select(OutgoingMail.state).where(
                                OutgoingMail.kind == MailKind.URGENT_ALERT
                            )
                        )
                        .scalars()
                        .all()
                    )
                    db.session.rollback()
                return [str(state) for state in states]

            took = wait_for(
                lambda: sent() == [MailState.SENT.value], MAIL_LEASE + 60, "the alert to be sent"
            )
            print(f"alert sent {took:.1f} s after the kill (lease {MAIL_LEASE} s)")
        finally:
            box.hold.clear()
            kill_group(first)
            kill_group(cron)
            if second is not None:
                kill_group(second)
    delivered = box.messages()
    assert len(delivered) == 1 and delivered[0]["To"] == "liaison@example.org"
    from email import message_from_bytes, policy

    held = message_from_bytes(box.held[0], policy=policy.default)
    assert held["Message-ID"] == delivered[0]["Message-ID"]  # the same message, again


def test_a_digest_cut_off_by_a_worker_kill_is_not_sent_twice_and_not_lost(
    app, client, database_url, redis_url, tmp_path
):
    """A digest is sent at most once: the SMTP server has its DATA and has not answered when the
    worker dies, so after the lease the next attempt marks it `uncertain` instead of sending it
    again; the next digest then covers the lost one's window, so what it said is not lost."""
    from models import MailKind, MailState, OutgoingMail
    from moderation.core.redis_conn import get_redis
    from moderation.notifications import digests, outbox
    from moderation.settings import settings_for
    from tests.factories import make_user
    from tests.notifications.notify_factories import sensitive_report, set_preferences
    from tests.notifications.smtp_server import smtp_server

    with smtp_server(tmp_path) as box:
        settings = {
            "SMTP_URL": box.url,
            "SMTP_CA_FILE": box.ca_file,
            "SMTP_TIMEOUT": 5,
            "MAIL_FROM": "Moderation queue <noreply@moderation.example>",
            "BASE_URL": "https://moderation.example",
            "MAIL_RETRY_SECONDS": "1,1,1",
            "MAIL_LEASE_SECONDS": MAIL_LEASE,
            "CRON_ALERT_INTERVAL_SECONDS": 2,
            "CRON_DIGEST_INTERVAL_SECONDS": 3600,
        }
        app.config.update(settings, CLASSIFIER_MODEL="", MEDIA_INDEX_DIR=str(tmp_path / "mi"))
        set_preferences(app, make_user(app, "senior@example.org", "senior"), queue_digest=True)
        sensitive_report(app, client, 402)  # waiting in the queue: the digest has news

        def digest_now() -> None:
            with app.app_context():
                notifications = settings_for(app).notifications
                result = digests.send_round(db.session, notifications, on_demand=True)
                outbox.dispatch(db.session, get_redis(), notifications, result.recorded)

        def rows() -> list[tuple[str, object]]:
            with app.app_context():
                found = db.session.execute(
                    select(OutgoingMail.state, OutgoingMail.covers_from)
                    .where(OutgoingMail.kind == MailKind.DIGEST)
                    .order_by(OutgoingMail.id)
                ).all()
                db.session.rollback()
            return [(str(state), covers_from) for state, covers_from in found]

        box.hold.set()
        first, cron = start_worker_and_cron(app, database_url, redis_url, tmp_path, **settings)
        second = None
        try:
            digest_now()
            wait_for(lambda: len(box.held) == 1, 60, "the first worker to hand SMTP the digest")
            kill_group(first)  # DATA sent, no answer read: the server may have it
            box.hold.clear()
            env = worker_env(app, database_url, redis_url, **settings)
            second = start_command(["worker", "--log-level", "WARNING"], env, tmp_path / "w2.log")
            wait_for(
                lambda: [state for state, _ in rows()] == [MailState.UNCERTAIN.value],
                MAIL_LEASE + 60,
                "the cut-off digest to be settled as uncertain",
            )
            digest_now()  # the next digest
            wait_for(
                lambda: (
                    [state for state, _ in rows()]
                    == [MailState.UNCERTAIN.value, MailState.SENT.value]
                ),
                60,
                "the next digest to be sent",
            )
        finally:
            box.hold.clear()
            kill_group(first)
            kill_group(cron)
            if second is not None:
                kill_group(second)
    (lost, lost_from), (_, next_from) = rows()
    assert next_from == lost_from  # the next digest covers what the uncertain one would have
    assert len(box.messages()) == 1  # the cut-off digest was not sent again
