"""The review queue: priority order, filters, SLA timers, counts, and claims (leases)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from models import Report, ReportStatus, ReviewClaim, utcnow
from moderation.core.db import db
from moderation.review import queue as review
from tests.factories import login, make_user
from tests.review.review_factories import image_report, make_report


def _rows(html: str) -> list[str]:
    import re

    return re.findall(r'data-report-id="(\d+)"', html)


def test_queue_lists_by_priority_then_age_with_counts(app, client):
    make_user(app)
    low = make_report(app, priority=10, category="doxxing")
    high = make_report(app, priority=90)
    old_mid = make_report(app, priority=50, age_hours=5)
    new_mid = make_report(app, priority=50, age_hours=1)
    make_report(app, priority=99, status=ReportStatus.DECIDED)
    login(client)
    html = client.get("/").get_data(as_text=True)
    assert _rows(html) == [str(high), str(old_mid), str(new_mid), str(low)]
    assert "data-queue-total>4<" in html
    assert 'Doxxing <span class="count">1</span>' in html


def test_filters_narrow_the_queue(app, client):
    make_user(app)
    banked = image_report(
        app, signals=[{"kind": "bank", "label": "victim_submitted"}], language="ko"
    )
    other_platform = make_report(app, slug="other", language="en")
    old = make_report(app, age_hours=30, category="doxxing")
    login(client)
    assert _rows(client.get("/?bank=yes").get_data(as_text=True)) == [str(banked)]
    assert str(banked) not in _rows(client.get("/?bank=no").get_data(as_text=True))
    assert _rows(client.get("/?platform=other").get_data(as_text=True)) == [str(other_platform)]
    assert _rows(client.get("/?language=ko").get_data(as_text=True)) == [str(banked)]
    assert _rows(client.get("/?age=24").get_data(as_text=True)) == [str(old)]
    assert _rows(client.get("/?category=doxxing").get_data(as_text=True)) == [str(old)]
    # Nonsense filter values are ignored, not errors.
    assert client.get("/?age=7&bank=maybe").status_code == 200


def test_sla_timer_and_overdue_highlight(app, client):
    app.config["SLA_HOURS"] = {"ncii": 24, "default": 72}
    make_user(app)
    overdue = make_report(app, age_hours=30)
    fresh = make_report(app, age_hours=2, category="doxxing")
    login(client)
    html = client.get("/").get_data(as_text=True)
    row_overdue = html.split(f'data-report-id="{overdue}"')[0].rsplit("<tr", 1)[1]
    assert "overdue" in row_overdue
    assert "overdue by 6h" in html
    assert "69h" in html.split(f'data-report-id="{fresh}"')[1].split("</tr>")[0]


def test_liaison_cannot_see_the_queue(app, client):
    make_user(app, "liaison@example.org", role="liaison")
    login(client, "liaison@example.org")
    assert client.get("/").status_code == 403


def test_two_moderators_never_hold_the_same_report(app):
    first = make_user(app, "a@example.org")
    second = make_user(app, "b@example.org")
    report_id = make_report(app)
    with app.app_context():
        taken = review.claim(db.session, report_id, first, 5)
        refused = review.claim(db.session, report_id, second, 5)
        assert taken.acquired and not refused.acquired
        assert refused.holder_user_id == first and refused.holder_email == "a@example.org"
        assert db.session.get(Report, report_id).status == ReportStatus.IN_REVIEW
        # Renewing one's own lease works; once it expires the other moderator takes over.
        assert review.claim(db.session, report_id, first, 5).acquired
        db.session.execute(update(ReviewClaim).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert review.claim(db.session, report_id, second, 5).acquired
        assert not review.claim(db.session, report_id, first, 5).acquired
        assert db.session.execute(select(ReviewClaim.user_id)).scalar_one() == second


def test_others_see_who_holds_an_item(app, client):
    make_user(app, "a@example.org")
    make_user(app, "b@example.org")
    report_id = image_report(app)
    login(client, "a@example.org")
    assert "Claimed by you" in client.get(f"/review/{report_id}").get_data(as_text=True)
    other = app.test_client()
    login(other, "b@example.org")
    page = other.get(f"/review/{report_id}").get_data(as_text=True)
    assert "a@example.org is reviewing this" in page
    assert "data-decide-form" not in page
    assert "a@example.org" in other.get("/").get_data(as_text=True)
