"""Decision callbacks end to end: a report through intake and triage, a decision through the
decision service, the platform's callback configured with the CLI, deliveries through the real
dispatcher job and an RQ worker, and a receiver on loopback that verifies every message with the
reference `standardwebhooks` library."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from models import AuditEvent, CallbackAttempt, CallbackDelivery, DeliveryState, Platform
from moderation.core.db import db
from moderation.outcomes import callbacks
from moderation.settings import settings_for
from tests.cases.case_factories import fast_triage
from tests.factories import make_image, make_platform, post_report, report_body, run_worker_burst
from tests.outcomes.outcome_factories import decide, payload, receiver


def _cli(app, *args: str) -> dict:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _report(app, client, tmp_path, slug: str = "acme", seed: int = 5) -> int:
    fast_triage(app, tmp_path)
    platform = make_platform(app, slug)
    response = post_report(client, platform, report_body([make_image(seed)], external_id="post-9"))
    assert response.status_code == 202
    run_worker_burst(app)
    return response.get_json()["id"]


def _dispatch_and_work(app) -> None:
    from workers import jobs

    with app.app_context():
        jobs.dispatch_callbacks()
    run_worker_burst(app)


def _deliveries(app) -> list[CallbackDelivery]:
    with app.app_context():
        rows = list(db.session.execute(select(CallbackDelivery)).scalars())
        db.session.expunge_all()
        return rows


def test_a_removal_is_called_back_signed_and_retried_until_accepted(app, client, tmp_path):
    app.config["CALLBACK_RETRY_SECONDS"] = "0,0,0"
    report_id = _report(app, client, tmp_path)
    with receiver([500, 500]) as hook:
        app.config["CALLBACK_ALLOW_HOSTS"] = f"127.0.0.1:{hook.port}"
        secret = _cli(app, "platform", "set-callback", "acme", hook.url, "--json")[
            "callback_secret"
        ]
        assert secret.startswith("whsec_")
        decide(app, report_id, "remove.ncii")
        for _ in range(3):
            _dispatch_and_work(app)
        _dispatch_and_work(app)  # delivered: nothing more is sent
    assert [request["path"] for request in hook.seen] == ["/hooks/moderation"] * 3
    verifier = Webhook(secret)
    ids = set()
    for request in hook.seen:
        headers = {name.lower(): value for name, value in request["headers"].items()}
        assert verifier.verify(request["body"], headers)["type"] == "decision.final"
        ids.add(headers["webhook-id"])
    assert len(ids) == 1  # the same webhook-id on every attempt: the receiver dedupes on it
    data = payload(hook.seen[-1])["data"]
    assert data["report_id"] == report_id and data["external_id"] == "post-9"
    assert (data["action"], data["policy"]) == ("remove", "remove.ncii")
    # Nothing but ids, codes and times: no text, URL, name or media.
    assert set(data) == {
        "report_id",
        "external_id",
        "decision_id",
        "action",
        "policy",
        "decided_at",
    }
    (delivery,) = _deliveries(app)
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 3
    with app.app_context():
        attempts = db.session.execute(select(CallbackAttempt.status_code)).scalars().all()
    assert attempts == [500, 500, 200]


def test_a_forged_signature_fails_the_reference_verifier(app, client, tmp_path):
    report_id = _report(app, client, tmp_path)
    with receiver() as hook:
        app.config["CALLBACK_ALLOW_HOSTS"] = f"127.0.0.1:{hook.port}"
        _cli(app, "platform", "set-callback", "acme", hook.url, "--json")
        decide(app, report_id, "no_violation")
        _dispatch_and_work(app)
    headers = {name.lower(): value for name, value in hook.seen[0]["headers"].items()}
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUFB" * 8).verify(hook.seen[0]["body"], headers)
    assert payload(hook.seen[0])["data"]["action"] == "no_violation"


def test_needs_context_and_undone_decisions_are_never_called_back(app, client, tmp_path):
    from models import Report
    from moderation.review import decisions
    from tests.factories import make_user

    report_id = _report(app, client, tmp_path)
    with receiver() as hook:
        app.config["CALLBACK_ALLOW_HOSTS"] = f"127.0.0.1:{hook.port}"
        _cli(app, "platform", "set-callback", "acme", hook.url, "--json")
        decide(app, report_id, "needs_context")
        user_id = make_user(app, "other@example.org")
        with app.app_context():
            report = db.session.get(Report, report_id)
            recorded = decisions.decide(
                db.session, report, user_id, decisions.DecisionInput("remove.ncii"), 60, 5
            )
            decisions.undo(db.session, recorded.batch_id, user_id)
        _dispatch_and_work(app)
    assert hook.seen == [] and _deliveries(app) == []


def test_a_private_address_is_refused_and_retried_later(app, client, tmp_path):
    report_id = _report(app, client, tmp_path)
    # Port 80 of a name that resolves to loopback: refused before any connection is made.
    _cli(app, "platform", "set-callback", "acme", "http://localhost/hook", "--json")
    decide(app, report_id, "remove.ncii")
    _dispatch_and_work(app)
    (delivery,) = _deliveries(app)
    assert delivery.state == DeliveryState.PENDING and delivery.attempts == 1
    with app.app_context():
        attempt = db.session.execute(select(CallbackAttempt)).scalar_one()
        assert attempt.error == "blocked_address" and attempt.status_code is None
        # The first retry waits about five seconds (±10 %).
        wait = delivery.next_attempt_at - attempt.attempted_at
        assert timedelta(seconds=4.4) <= wait <= timedelta(seconds=5.6)


def test_410_disables_the_endpoint_and_retry_after_is_honoured(app, client, tmp_path):
    report_id = _report(app, client, tmp_path)
    with receiver([503, 410]) as hook:
        hook.retry_after = "120"
        app.config["CALLBACK_ALLOW_HOSTS"] = f"127.0.0.1:{hook.port}"
        _cli(app, "platform", "set-callback", "acme", hook.url, "--json")
        decide(app, report_id, "remove.ncii")
        _dispatch_and_work(app)
        (delivery,) = _deliveries(app)
        with app.app_context():
            attempt = db.session.execute(select(CallbackAttempt)).scalar_one()
        assert delivery.next_attempt_at - attempt.attempted_at >= timedelta(seconds=120)
        with app.app_context():  # an admin does not wait: "redeliver" sends now
            admin_result = callbacks.redeliver(
                db.session, delivery.id, _admin(app), settings_for(app).callbacks
            )
    assert admin_result.status_code == 410 and admin_result.state == "disabled"
    with app.app_context():
        assert db.session.execute(select(Platform.callback_url)).scalar_one() is None
        actions = db.session.execute(select(AuditEvent.action)).scalars().all()
    assert "platform.callback_disabled" in actions and "callback.redeliver" in actions


def _admin(app) -> int:
    from tests.factories import make_user

    return make_user(app, "admin@example.org", role="admin")


def test_rotation_signs_with_both_secrets_for_seven_days(app, client, tmp_path):
    report_id = _report(app, client, tmp_path)
    with receiver() as hook:
        app.config["CALLBACK_ALLOW_HOSTS"] = f"127.0.0.1:{hook.port}"
        old = _cli(app, "platform", "set-callback", "acme", hook.url, "--json")["callback_secret"]
        new = _cli(app, "platform", "rotate-callback-secret", "acme", "--json")["callback_secret"]
        assert new != old
        decide(app, report_id, "remove.ncii")
        _dispatch_and_work(app)
    headers = {name.lower(): value for name, value in hook.seen[0]["headers"].items()}
    for secret in (old, new):  # a receiver holding either one verifies
        Webhook(secret).verify(hook.seen[0]["body"], headers)


def test_platform_add_prints_the_callback_secret_once(app):
    document = _cli(
        app, "platform", "add", "beta", "--callback-url", "https://beta.example/hook", "--json"
    )
    assert document["callback_secret"].startswith("whsec_")
    result = app.test_cli_runner().invoke(
        args=["platform", "set-callback", "beta", "ftp://beta.example/x", "--json"]
    )
    assert result.exit_code == 1 and json.loads(result.output)["error"] == "invalid_callback"
    # Setting a URL again does not print (or change) the secret.
    again = _cli(app, "platform", "set-callback", "beta", "https://beta.example/v2", "--json")
    assert "callback_secret" not in again


def test_the_admin_page_lists_attempts_and_redelivers(app, client, tmp_path):
    from tests.factories import csrf_token, login, make_user

    report_id = _report(app, client, tmp_path)
    with receiver([500]) as hook:
        app.config["CALLBACK_ALLOW_HOSTS"] = f"127.0.0.1:{hook.port}"
        _cli(app, "platform", "set-callback", "acme", hook.url, "--json")
        decide(app, report_id, "remove.ncii")
        _dispatch_and_work(app)
        make_user(app, "admin@example.org", role="admin")
        admin = app.test_client()
        login(admin, "admin@example.org")
        page = admin.get("/admin/callbacks/?state=pending&lang=en")
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and "HTTP 500" in html and "Redeliver now" in html
        assert hook.url not in html  # the endpoint's address is the platform's business
        (delivery,) = _deliveries(app)
        answer = admin.post(
            f"/admin/callbacks/{delivery.id}/redeliver", data={"csrf_token": csrf_token(html)}
        )
        assert answer.status_code == 302
        assert len(hook.seen) == 2
        after = admin.get("/admin/callbacks/?lang=ko").get_data(as_text=True)
        assert "전달됨" in after and "관리자가 재전송함" in after
    moderator = app.test_client()
    make_user(app, "mod2@example.org")
    login(moderator, "mod2@example.org")
    assert moderator.get("/admin/callbacks/").status_code == 403
