"""Decisions: pending with an undo window, undo, finalisation and its side effects, clusters."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from models import AuditEvent, Decision, DecisionState, Report, ReportStatus, ReviewClaim, utcnow
from moderation.core.db import db
from moderation.core.errors import ConflictError
from moderation.review import claims, decisions, finalize
from tests.factories import csrf_token, login, make_user
from tests.review.review_factories import image_report, make_report


def _expire_windows(app) -> None:
    with app.app_context():
        db.session.execute(update(Decision).values(final_after=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def _status(app, report_id: int) -> str:
    with app.app_context():
        return db.session.get(Report, report_id).status


def _actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars())


def _decide(client, report_id: int, action: str, **extra: str):
    page = client.get(f"/review/{report_id}").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "action": action,
        "reason": "policy 4.2",
        "note": "n",
        **extra,
    }
    return client.post(f"/review/{report_id}/decide", data=data)


def test_decision_is_pending_then_final_with_side_effects(app, client):
    make_user(app)
    report_id = image_report(app)
    login(client)
    assert _decide(client, report_id, "remove.ncii").status_code == 302
    assert _status(app, report_id) == ReportStatus.IN_REVIEW
    assert "decision.final" not in _actions(app)
    page = client.get(f"/review/{report_id}").get_data(as_text=True)
    assert "data-undo-form" in page and "waiting for its undo window" in page
    _expire_windows(app)
    client.get("/")  # any queue read finalises what is due
    assert _status(app, report_id) == ReportStatus.DECIDED
    with app.app_context():
        decision = db.session.execute(select(Decision)).scalar_one()
        assert decision.state == DecisionState.FINAL and decision.finalized_at is not None
        assert db.session.execute(select(ReviewClaim)).first() is None
    with app.app_context():
        assert finalize.finalize_due(db.session) == []  # nothing twice
    assert _actions(app).count("decision.final") == 1
    assert "decision.record" in _actions(app)


def test_finalising_refuses_a_session_with_uncommitted_work(app):
    """It commits per batch: run first, as its own unit of work, never inside another."""
    report_id = make_report(app)
    with app.app_context():
        db.session.get(Report, report_id).priority = 1
        with pytest.raises(RuntimeError, match="own unit of work"):
            finalize.finalize_due(db.session)
        db.session.rollback()


def test_undo_within_the_window_deletes_the_decision(app, client):
    make_user(app)
    report_id = image_report(app)
    login(client)
    _decide(client, report_id, "no_violation")
    page = client.get(f"/review/{report_id}").get_data(as_text=True)
    undo_url = re.search(r'action="(/review/undo/[^"]+)"', page).group(1)
    assert client.post(undo_url, data={"csrf_token": csrf_token(page)}).status_code == 302
    with app.app_context():
        assert db.session.execute(select(Decision)).first() is None
    _expire_windows(app)
    client.get("/")
    assert "decision.final" not in _actions(app)
    assert _status(app, report_id) == ReportStatus.IN_REVIEW
    assert "decision.undo" in _actions(app)
    # The report can be decided again.
    assert _decide(client, report_id, "escalate").status_code == 302


def test_undo_after_the_window_is_refused(app, client):
    make_user(app)
    report_id = image_report(app)
    login(client)
    _decide(client, report_id, "remove.doxxing")
    page = client.get(f"/review/{report_id}").get_data(as_text=True)
    undo_url = re.search(r'action="(/review/undo/[^"]+)"', page).group(1)
    _expire_windows(app)
    assert client.post(undo_url, data={"csrf_token": csrf_token(page)}).status_code == 409
    client.get("/")
    assert _status(app, report_id) == ReportStatus.DECIDED


def test_only_the_decider_can_undo(app):
    first = make_user(app, "a@example.org")
    second = make_user(app, "b@example.org")
    report_id = make_report(app)
    with app.app_context():
        report = db.session.get(Report, report_id)
        recorded = decisions.decide(
            db.session, report, first, decisions.DecisionInput("no_violation"), 10, 5
        )
        with pytest.raises(ConflictError):
            decisions.undo(db.session, recorded.batch_id, second)
        assert decisions.undo(db.session, recorded.batch_id, first) == [report_id]


@pytest.mark.parametrize(
    ("action", "status"),
    [("needs_context", ReportStatus.QUEUED), ("escalate", ReportStatus.ESCALATED)],
)
def test_outcomes_move_the_report(app, client, action, status):
    make_user(app)
    report_id = make_report(app)
    login(client)
    _decide(client, report_id, action)
    _expire_windows(app)
    client.get("/")
    assert _status(app, report_id) == status


def test_bad_or_conflicting_decisions_are_refused(app, client):
    make_user(app, "a@example.org")
    make_user(app, "b@example.org")
    report_id = make_report(app)
    login(client, "a@example.org")
    assert _decide(client, report_id, "delete_everything").status_code == 422
    assert _decide(client, report_id, "remove.ncii", without_viewing="1").status_code == 422
    page = client.get(f"/review/{report_id}").get_data(as_text=True)
    client.post(f"/review/{report_id}/claim", data={"csrf_token": csrf_token(page)})
    other = app.test_client()
    login(other, "b@example.org")
    page = other.get("/").get_data(as_text=True)
    response = other.post(
        f"/review/{report_id}/decide",
        data={"csrf_token": csrf_token(page), "action": "no_violation"},
    )
    assert response.status_code == 409
    with app.app_context():
        assert db.session.execute(select(Decision)).first() is None


def test_bank_match_can_be_decided_without_viewing(app, client):
    make_user(app)
    report_id = image_report(app, signals=[{"kind": "bank", "label": "confirmed"}])
    login(client)
    assert _decide(client, report_id, "remove.ncii", without_viewing="1").status_code == 302
    with app.app_context():
        decision = db.session.execute(select(Decision)).scalar_one()
        assert decision.without_viewing
    assert "media.reveal" not in _actions(app)


def test_senior_decides_a_whole_cluster_at_once(app, client):
    make_user(app, "senior@example.org", role="senior")
    holder = make_user(app, "a@example.org")
    ids = [make_report(app, cluster_id=3) for _ in range(3)]
    held = make_report(app, cluster_id=3)
    elsewhere = make_report(app)
    with app.app_context():
        claims.hold(db.session, held, holder, 5)
    login(client, "senior@example.org")
    response = _decide(client, ids[0], "remove.ncii", cluster="1")
    assert response.status_code == 302
    _expire_windows(app)
    client.get("/")
    assert [_status(app, i) for i in ids] == [ReportStatus.DECIDED] * 3
    assert _status(app, held) == ReportStatus.IN_REVIEW
    assert _status(app, elsewhere) == ReportStatus.QUEUED
    assert "decision.record_cluster" in _actions(app)


def test_moderators_cannot_decide_clusters(app, client):
    make_user(app)
    ids = [make_report(app, cluster_id=4) for _ in range(2)]
    login(client)
    assert "data-key-cluster" not in client.get(f"/review/{ids[0]}").get_data(as_text=True)
    assert _decide(client, ids[0], "remove.ncii", cluster="1").status_code == 403


def test_submit_and_next_goes_to_the_next_open_item(app, client):
    make_user(app)
    first = make_report(app, priority=90)
    second = make_report(app, priority=80)
    login(client)
    response = _decide(client, first, "no_violation", next="1")
    assert response.headers["Location"].endswith(f"/review/{second}")
    assert client.get(f"/review/{second}/next").headers["Location"].endswith("/")


def test_platform_status_sees_only_final_decisions(app, client):
    from tests.factories import make_platform

    make_user(app)
    creds = make_platform(app, "acme")
    report_id = make_report(app, slug="acme")
    login(client)
    _decide(client, report_id, "remove.ncii")
    api = app.test_client()
    headers = {"Authorization": f"Bearer {creds.api_token}"}
    body = api.get(f"/api/v1/platforms/acme/reports/{report_id}", headers=headers).get_json()
    assert body["decision"] is None and body["status"] == "in_review"
    _expire_windows(app)
    body = api.get(f"/api/v1/platforms/acme/reports/{report_id}", headers=headers).get_json()
    assert body["status"] == "decided" and body["decision"]["action"] == "remove.ncii"


def test_the_periodic_job_finalises(app, client):
    from tests.factories import run_worker_burst

    make_user(app)
    report_id = make_report(app)
    login(client)
    _decide(client, report_id, "no_violation")
    _expire_windows(app)
    from moderation.core.queueing import FINALIZE_DECISIONS, enqueue
    from moderation.core.redis_conn import get_redis

    with app.app_context():
        enqueue(FINALIZE_DECISIONS, get_redis())
    run_worker_burst(app)
    assert _status(app, report_id) == ReportStatus.DECIDED


def test_a_cluster_decision_without_viewing_names_the_unmatched_and_keeps_the_form(app, client):
    """Issue 14 item 9: it ended on a bare 422 page that lost the typed reason."""
    make_user(app, "senior@example.org", role="senior")
    banked = image_report(app, cluster_id=8, signals=[{"kind": "bank", "label": "confirmed"}])
    unmatched = make_report(app, cluster_id=8)
    login(client, "senior@example.org")
    answer = _decide(
        client, banked, "remove.ncii", cluster="1", without_viewing="1", note="seen on the feed"
    )
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert f"#{unmatched} of this cluster have none" in page
    assert "data-decide-form" in page and 'class="topbar' in page  # the whole item page
    assert "seen on the feed</textarea>" in page and 'value="policy 4.2"' in page
    assert 'value="remove.ncii" data-key="1" required checked' in page
    with app.app_context():
        assert db.session.execute(select(Decision)).first() is None
