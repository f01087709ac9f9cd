"""The other mail people expect: the invitation carries the same single-use link the admin
sees once; a sign-in from a browser new to the account and a password change tell the owner;
a victim who left an email address on the portal hears when their report's stage changes,
with nothing about the content or the accused."""

from __future__ import annotations

import io
import re

from sqlalchemy import select

from models import PortalReceipt, Report
from moderation.core.db import db
from moderation.core.queueing import SEND_ALERTS, enqueue
from moderation.core.redis_conn import get_redis
from tests.factories import (
    PASSWORD,
    csrf_token,
    login,
    make_image,
    make_user,
    run_worker_burst,
    totp_code_for,
)
from tests.outcomes.outcome_factories import decide


def _subjects(mailbox) -> list[tuple[str, str]]:
    return [
        (item["to"][0], str(message["Subject"]))
        for item, message in zip(mailbox.received, mailbox.messages(), strict=True)
    ]


def test_invitation_email_carries_the_link_the_admin_sees(mail_app, client, mailbox):
    make_user(mail_app, "admin@example.org", "admin")
    assert login(client, "admin@example.org").status_code == 302
    page = client.get("/admin/users/")
    answer = client.post(
        "/admin/users/invite",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "email": "new.liaison@example.org",
            "role": "liaison",
        },
    )
    assert answer.status_code == 200
    shown = re.search(r"https?://[^\s\"<]+/invite#[A-Za-z0-9_\-]+", answer.get_data(as_text=True))
    assert shown, "the admin sees the link once"
    run_worker_burst(mail_app)
    invited = [
        (subject, message)
        for (to, subject), message in zip(_subjects(mailbox), mailbox.messages(), strict=True)
        if to == "new.liaison@example.org"
    ]
    assert [subject for subject, _ in invited] == ["You are invited to the moderation queue"]
    message = invited[0][1]
    token = shown.group(0).rsplit("#", 1)[1]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert f"https://moderation.example/invite#{token}" in text
    assert f"https://moderation.example/invite#{token}" in html
    # The outbox kept the link sealed and dropped it once sent.
    from models import OutgoingMail

    with mail_app.app_context():
        rows = db.session.execute(select(OutgoingMail)).scalars().all()
        assert all(row.sealed is None and token not in str(row.context) for row in rows)


def test_sign_in_from_a_new_browser_tells_the_owner_once(mail_app, client, mailbox):
    make_user(mail_app, "mod@example.org", "moderator")
    assert login(client, "mod@example.org").status_code == 302
    run_worker_burst(mail_app)
    assert _subjects(mailbox) == [("mod@example.org", "New sign-in to your account")]
    # Signing out and in again from the same browser (it carries the device cookie): nothing.
    page = client.get("/account/")
    client.post("/logout", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert login(client, "mod@example.org").status_code == 302
    run_worker_burst(mail_app)
    assert len(mailbox.received) == 1
    # Another browser: a second notice.
    assert login(mail_app.test_client(), "mod@example.org").status_code == 302
    run_worker_burst(mail_app)
    assert len(mailbox.received) == 2


def test_password_change_tells_the_owner(mail_app, client, mailbox):
    make_user(mail_app, "mod@example.org", "moderator")
    login(client, "mod@example.org")
    page = client.get("/account/password")
    answer = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "current": PASSWORD,
            "code": totp_code_for(mail_app, "mod@example.org"),
            "new": "an entirely new passphrase for testing 42",
            "confirm": "an entirely new passphrase for testing 42",
        },
    )
    assert answer.status_code == 302
    run_worker_burst(mail_app)
    assert ("mod@example.org", "Your password was changed") in _subjects(mailbox)


def _file_portal_report(client, contact: str, lang: str = "en", description: str = "") -> None:
    page = client.get(f"/portal/report?lang={lang}")
    answer = client.post(
        "/portal/report",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "category": "ncii",
            "links": "https://social.example/p/9",
            "description": description or "Kim Jiyoung, my ex perp_handle_77 posted it",
            "contact": contact,
            "files": [(io.BytesIO(make_image(77)), "me.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)


def _alert_round(app) -> None:
    with app.app_context():
        enqueue(SEND_ALERTS, get_redis())
    run_worker_burst(app)


def test_victims_hear_when_their_reports_stage_changes(mail_app, client, mailbox):
    # Written in Korean: the report's language, and so the notice's.
    _file_portal_report(
        client,
        "victim@example.net",
        lang="ko",
        description="김지영입니다. 전 남자친구 perp_handle_77이 제 사진을 올렸어요",
    )
    _file_portal_report(mail_app.test_client(), "010-9999-8888")  # a phone number: no email
    run_worker_burst(mail_app)  # triage: the reports wait for review
    _alert_round(mail_app)
    assert [to for to, _ in _subjects(mailbox)] == ["victim@example.net"]
    first = mailbox.messages()[0]
    assert str(first["Subject"]) == "신고 처리 상태가 바뀌었습니다"
    assert "검토하고 있습니다" in first.get_body(("plain",)).get_content()

    with mail_app.app_context():
        report_id = (
            db.session.execute(
                select(Report.id)
                .join(PortalReceipt, PortalReceipt.report_id == Report.id)
                .order_by(Report.id)
            )
            .scalars()
            .first()
        )
        receipts = list(db.session.execute(select(PortalReceipt.number)).scalars())
    decide(mail_app, report_id, "remove.ncii")
    _alert_round(mail_app)
    _alert_round(mail_app)
    assert [to for to, _ in _subjects(mailbox)] == ["victim@example.net"] * 2
    finished = mailbox.messages()[1].get_body(("plain",)).get_content()
    assert "검토가 끝났습니다" in finished
    for message in mailbox.messages():
        raw = message.as_string()
        for secret in ("김지영", "perp_handle_77", "social.example", "remove.ncii", *receipts):
            assert secret not in raw, secret
        assert "https://moderation.example/portal/status" in raw
