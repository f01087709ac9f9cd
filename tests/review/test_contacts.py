"""Sealed contact data on the item page: who may open it, that opening it is audited (without the
data), and that a tampered row is reported, not shown."""

from __future__ import annotations

from sqlalchemy import select, update

from models import AuditEvent, ReportStatus, SealedContact
from moderation.config import decode_media_key
from moderation.core.db import db
from moderation.core.sealing import add_sealed_contact, contact_key
from tests.factories import csrf_token, login, make_user
from tests.review.review_factories import make_report

PHONE = "010-2345-6789, evenings only"
EMAIL = "reporter@example.org"
ADDRESS = "203.0.113.9"


def _report_with_contacts(app, status: str = ReportStatus.QUEUED) -> int:
    report_id = make_report(app, status=status)
    with app.app_context():
        key = contact_key(decode_media_key(app.config["MEDIA_KEY"]))
        add_sealed_contact(db.session, key, report_id, "portal_contact", {"contact": PHONE})
        add_sealed_contact(
            db.session,
            key,
            report_id,
            "mastodon_reporter",
            {
                "email": EMAIL,
                "ip": None,
                "ips": [{"ip": ADDRESS, "used_at": "2026-11-20T10:00:00Z"}],
            },
        )
        db.session.commit()
    return report_id


def _open(client, report_id: int):
    page = client.get(f"/review/{report_id}")
    return client.post(
        f"/review/{report_id}/contact",
        data={"csrf_token": csrf_token(page.get_data(as_text=True))},
    )


def _audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars()
        )


def test_senior_opens_contact_details_and_only_the_fact_is_audited(app, client):
    make_user(app, "senior@example.org", "senior")
    report_id = _report_with_contacts(app)
    login(client, "senior@example.org")
    item = client.get(f"/review/{report_id}").get_data(as_text=True)
    assert "Show contact details" in item and "report portal" in item and "Mastodon" in item
    assert PHONE not in item and EMAIL not in item

    opened = _open(client, report_id)
    html = opened.get_data(as_text=True)
    assert opened.status_code == 200 and opened.headers["Cache-Control"] == "no-store"
    assert PHONE in html and EMAIL in html and f"{ADDRESS} · 2026-11-20T10:00:00Z" in html
    assert html.index("report portal") < html.index("Mastodon")  # the victim's own words first
    [event] = _audit(app, "contact.view")
    assert event.object_id == str(report_id)
    assert event.details == {"purposes": ["mastodon_reporter", "portal_contact"], "unreadable": 0}
    events = _audit(app, "contact.view") + _audit(app, "report.view")
    every_detail = repr([e.details for e in events])
    assert PHONE not in every_detail and EMAIL not in every_detail and ADDRESS not in every_detail


def test_moderators_cannot_open_contacts_and_are_told_who_can(app, client):
    make_user(app)
    report_id = _report_with_contacts(app)
    login(client)
    item = client.get(f"/review/{report_id}").get_data(as_text=True)
    assert "A senior moderator or a liaison can open them." in item
    assert "Show contact details" not in item
    assert _open(client, report_id).status_code == 403
    assert _audit(app, "contact.view") == []


def test_liaisons_open_contacts_of_escalated_reports_only(app, client):
    make_user(app, "liaison@example.org", "liaison")
    queued = _report_with_contacts(app)
    escalated = _report_with_contacts(app, status=ReportStatus.ESCALATED)
    login(client, "liaison@example.org")
    form = {"csrf_token": csrf_token(client.get("/review/preferences").get_data(as_text=True))}
    assert client.post(f"/review/{queued}/contact", data=form).status_code == 404
    assert client.post(f"/review/{escalated}/contact", data=form).status_code == 200
    assert [e.object_id for e in _audit(app, "contact.view")] == [str(escalated)]


def test_a_tampered_row_is_reported_unreadable_and_reports_without_contacts_say_so(app, client):
    make_user(app, "senior@example.org", "senior")
    report_id = _report_with_contacts(app)
    plain = make_report(app)
    with app.app_context():
        row = db.session.execute(
            select(SealedContact).where(SealedContact.purpose == "portal_contact")
        ).scalar_one()
        flipped = bytes([row.ciphertext[-1] ^ 1])
        db.session.execute(
            update(SealedContact)
            .where(SealedContact.id == row.id)
            .values(ciphertext=row.ciphertext[:-1] + flipped)
        )
        db.session.commit()
    login(client, "senior@example.org")
    html = _open(client, report_id).get_data(as_text=True)
    assert PHONE not in html and EMAIL in html
    assert _audit(app, "contact.view")[0].details["unreadable"] == 1

    assert "data-contact-box" not in client.get(f"/review/{plain}").get_data(as_text=True)
    empty = _open(client, plain).get_data(as_text=True)
    assert "There are no readable contact details for this report." in empty


def test_contact_pages_in_korean(app, client):
    make_user(app, "senior@example.org", "senior")
    report_id = _report_with_contacts(app)
    login(client, "senior@example.org")
    client.get("/?lang=ko")
    assert "연락처 정보 보기" in client.get(f"/review/{report_id}").get_data(as_text=True)
    assert "감사 로그에 기록되었습니다" in _open(client, report_id).get_data(as_text=True)
