"""Urgent alerts: a case of suspected CSAM or of a person in immediate danger, and a police
request due within hours, reach the people who may know it at once (the cron's alert round
runs every 30 s), once each, in their language, with no more detail than a digest."""

from __future__ import annotations

from datetime import timedelta

from moderation.core.queueing import SEND_ALERTS, enqueue
from moderation.core.redis_conn import get_redis
from moderation.core.scheduling import periodic_jobs
from tests.cases.case_factories import escalate
from tests.factories import run_worker_burst
from tests.notifications.notify_factories import (
    SENSITIVE,
    build_world,
    log_police_request,
    open_case,
    sensitive_report,
)


def _alert_round(app) -> None:
    """What `moderation cron` does every CRON_ALERT_INTERVAL_SECONDS, then a worker."""
    with app.app_context():
        enqueue(SEND_ALERTS, get_redis())
    run_worker_burst(app)


def _alerts(mailbox) -> list[tuple[str, str, str]]:
    found = []
    for item, message in zip(mailbox.received, mailbox.messages(), strict=True):
        subject = str(message["Subject"])
        if (
            "Urgent" in subject
            or "긴급" in subject
            or "Police request" in subject
            or "수사기관" in subject
        ):
            found.append((item["to"][0], subject, message.get_body(("plain",)).get_content()))
    return sorted(found)


def test_the_alert_round_runs_within_a_minute(app):
    intervals = {spec.func: interval for spec, interval in periodic_jobs(app.config)}
    assert intervals[SEND_ALERTS.func] <= 60


def test_an_immediate_case_alerts_everyone_who_may_know_it_once(mail_app, client, mailbox):
    world = build_world(mail_app, client)
    _alert_round(mail_app)
    assert _alerts(mailbox) == []  # a routine case, a request due in 12 hours: the digest's

    report = sensitive_report(mail_app, client, 303, world.platform)
    escalate(mail_app, report, world.moderator_id, "Kim Jiyoung's address is posted")
    case_id, number = open_case(mail_app, [report], urgency="immediate")  # unassigned
    _alert_round(mail_app)

    alerts = _alerts(mailbox)
    assert [to for to, _, _ in alerts] == [
        "liaison.en@example.org", "liaison.ko@example.org", "senior@example.org",
    ]  # fmt: skip
    by_person = {to: (subject, text) for to, subject, text in alerts}
    assert by_person["liaison.ko@example.org"][0] == f"긴급 사건 {number}"
    assert "즉각적인 위험" in by_person["liaison.ko@example.org"][1]
    assert by_person["liaison.en@example.org"][0] == f"Urgent case {number}"
    assert f"https://moderation.example/cases/{case_id}" in by_person["senior@example.org"][1]
    for message in mailbox.messages():
        for secret in SENSITIVE:
            assert secret not in message.as_string(), secret
        assert not [p for p in message.walk() if p.get_content_maintype() == "image"]

    # Another round, and another: nothing more.
    _alert_round(mail_app)
    _alert_round(mail_app)
    assert len(_alerts(mailbox)) == 3


def test_suspected_csam_alerts_only_csam_roles(mail_app, client, mailbox):
    world = build_world(mail_app, client)
    report = sensitive_report(mail_app, client, 304, world.platform, category="csam_suspected")
    escalate(mail_app, report, world.senior_id, "suspected CSAM")
    _, number = open_case(mail_app, [report], case_type="csam_suspected")
    _alert_round(mail_app)
    # Liaisons are not in CSAM_ROLES (senior, admin): they may not know the case exists.
    assert [(to, subject) for to, subject, _ in _alerts(mailbox)] == [
        ("senior@example.org", f"Urgent case {number}")
    ]


def test_a_police_request_due_within_hours_alerts(mail_app, client, mailbox):
    world = build_world(mail_app, client)
    request_id = log_police_request(mail_app, world.case_id, timedelta(hours=2))
    _alert_round(mail_app)
    alerts = _alerts(mailbox)
    # The case is the Korean liaison's: the other liaison may not know it or its requests.
    assert [to for to, _, _ in alerts] == ["liaison.ko@example.org", "senior@example.org"]
    assert alerts[0][1] == f"수사기관 요청 #{request_id} 기한 임박"
    assert world.case_number in alerts[0][2]
    for _, _, text in alerts:
        assert "Seoul Metropolitan" not in text and "Park Minsu" not in text
        assert "SMPA-2026-777" not in text
    _alert_round(mail_app)
    assert len(_alerts(mailbox)) == 2


def test_alerts_off_means_no_alert(mail_app, client, mailbox):
    from tests.notifications.notify_factories import set_preferences

    world = build_world(mail_app, client)
    set_preferences(mail_app, world.senior_id, urgent_alerts=False, queue_digest=True)
    log_police_request(mail_app, world.case_id, timedelta(hours=1))
    _alert_round(mail_app)
    assert [to for to, _, _ in _alerts(mailbox)] == ["liaison.ko@example.org"]
