"""The review queue: priority order, filters, SLA timers, counts, and claims (leases)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from models import AuditEvent, Report, ReportStatus, ReviewClaim, utcnow
from moderation.core.db import db
from moderation.review import claims
from tests.factories import csrf_token, login, make_user
from tests.review.review_factories import image_report, make_report


def _rows(html: str) -> list[str]:
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
    start = client.get("/")  # their start page is the cases
    assert start.status_code == 302 and start.headers["Location"].endswith("/cases/")
    assert client.get("/?category=ncii").status_code == 302
    make_user(app, "nobody@example.org", role="moderator")


def test_two_moderators_never_hold_the_same_report(app):
    first = make_user(app, "a@example.org")
    second = make_user(app, "b@example.org")
    report_id = make_report(app)
    with app.app_context():
        taken = claims.claim(db.session, report_id, first, 5)
        db.session.commit()
        refused = claims.claim(db.session, report_id, second, 5)
        assert taken.acquired and not refused.acquired
        assert refused.holder_user_id == first and refused.holder_email == "a@example.org"
        assert db.session.get(Report, report_id).status == ReportStatus.IN_REVIEW
        # Renewing one's own lease works; once it expires the other moderator takes over.
        assert claims.claim(db.session, report_id, first, 5).acquired
        db.session.execute(update(ReviewClaim).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert claims.claim(db.session, report_id, second, 5).acquired
        assert not claims.claim(db.session, report_id, first, 5).acquired
        assert db.session.execute(select(ReviewClaim.user_id)).scalar_one() == second


def test_others_see_who_holds_an_item(app, client):
    make_user(app, "a@example.org")
    make_user(app, "b@example.org")
    report_id = image_report(app)
    login(client, "a@example.org")
    _start(client, report_id)
    assert "Claimed by you" in client.get(f"/review/{report_id}").get_data(as_text=True)
    other = app.test_client()
    login(other, "b@example.org")
    page = other.get(f"/review/{report_id}").get_data(as_text=True)
    assert "a@example.org is reviewing this" in page
    assert "data-decide-form" not in page
    assert "a@example.org" in other.get("/").get_data(as_text=True)


def _start(client, report_id: int) -> None:
    page = client.get(f"/review/{report_id}").get_data(as_text=True)
    assert (
        client.post(f"/review/{report_id}/claim", data={"csrf_token": csrf_token(page)}).status_code
        == 302
    )


def _holder(app, report_id: int) -> int | None:
    with app.app_context():
        return db.session.execute(
            select(ReviewClaim.user_id).where(ReviewClaim.report_id == report_id)
        ).scalar_one_or_none()


def test_opening_and_browsing_claim_nothing(app, client):
    make_user(app)
    first, second = make_report(app, priority=90), make_report(app, priority=80)
    login(client)
    client.get(f"/review/{first}")
    client.get(f"/review/{first}/next")  # j
    client.get(f"/review/{second}")
    assert _holder(app, first) is None and _holder(app, second) is None
    with app.app_context():
        assert db.session.get(Report, first).status == ReportStatus.QUEUED


def test_start_claims_and_release_gives_the_item_back(app, client):
    user_id = make_user(app)
    report_id = make_report(app)
    login(client)
    assert client.get("/review/start").headers["Location"].endswith(f"/review/{report_id}")
    assert _holder(app, report_id) == user_id
    page = client.get(f"/review/{report_id}").get_data(as_text=True)
    assert "data-release-url" in page
    # Leaving the page: the browser's beacon releases without wanting a page back.
    answer = client.post(
        f"/review/{report_id}/release", data={"csrf_token": csrf_token(page), "beacon": "1"}
    )
    assert answer.status_code == 204
    assert _holder(app, report_id) is None
    with app.app_context():
        assert db.session.get(Report, report_id).status == ReportStatus.QUEUED


def test_revealing_claims_the_item(app, client):
    user_id = make_user(app)
    report_id = image_report(app)
    login(client)
    page = client.get(f"/review/{report_id}").get_data(as_text=True)
    media_id = re.search(r'data-media-id="(\d+)"', page).group(1)
    client.post(f"/review/media/{media_id}/reveal", data={"csrf_token": csrf_token(page)})
    assert _holder(app, report_id) == user_id


def test_a_senior_takes_over_a_claim_and_a_moderator_cannot(app, client):
    holder = make_user(app, "a@example.org")
    make_user(app, "b@example.org")
    senior = make_user(app, "lead@example.org", role="senior")
    report_id = make_report(app)
    login(client, "a@example.org")
    _start(client, report_id)
    other = app.test_client()
    login(other, "b@example.org")
    page = other.get(f"/review/{report_id}").get_data(as_text=True)
    assert "Take over" not in page
    answer = other.post(f"/review/{report_id}/take-over", data={"csrf_token": csrf_token(page)})
    assert answer.status_code == 403 and _holder(app, report_id) == holder
    lead = app.test_client()
    login(lead, "lead@example.org")
    page = lead.get(f"/review/{report_id}").get_data(as_text=True)
    assert "Take over" in page
    lead.post(f"/review/{report_id}/take-over", data={"csrf_token": csrf_token(page)})
    assert _holder(app, report_id) == senior
    with app.app_context():
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "claim.take_over")
        ).scalar_one()
        assert event.details == {"from_user_id": holder}


def test_an_empty_filter_says_so_and_offers_the_whole_queue(app, client):
    make_user(app)
    make_report(app, category="ncii")
    login(client)
    filtered = client.get("/?category=doxxing").get_data(as_text=True)
    assert "No reports match these filters." in filtered and "Nothing is waiting" not in filtered
    make_report(app)  # the unfiltered queue is not empty
    assert "No reports match" not in client.get("/").get_data(as_text=True)
