"""Police requests on the clock: logged, answered or closed, audited without names, and the
figures (open, overdue, median time to answer over 30 days) equal values computed here."""

from __future__ import annotations

import json
import statistics
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import AuditEvent, User, utcnow
from moderation.cases import police
from moderation.cases.actor import Actor
from moderation.core.db import db
from moderation.core.errors import ConflictError, NotFoundError, ValidationError
from tests.factories import make_user
from tests.review.review_factories import image_report


def test_figures_equal_what_the_requests_say(app):
    now = utcnow()
    cli = Actor.cli()
    # (received hours ago, due hours from now, answered hours ago or None)
    specs = [
        (100, None, 90),  # 10 h
        (50, None, 20),  # 30 h
        (30, None, 28),  # 2 h
        (24 * 40, None, 24 * 35),  # answered 35 days ago: outside the window
        (10, -2, None),  # open, overdue
        (5, 10, None),  # open, not yet due
        (3, None, None),  # open, no due time
    ]
    with app.app_context():
        ids = []
        for received, due, done in specs:
            request = police.log_request(
                db.session, agency="Seoul Metropolitan Police", actor=cli,
                received_at=now - timedelta(hours=received),
                due_at=None if due is None else now + timedelta(hours=due),
                officer="Officer Kim", their_reference="2026-SMP-118", legal_basis="warrant",
            )  # fmt: skip
            ids.append(request.id)
            if done is not None:
                police.answer(
                    db.session, request.id, actor=cli, answered_at=now - timedelta(hours=done)
                )
        result = police.figures(db.session, now=now)
        assert result.open == 3 and result.overdue == 1 and result.answered == 3
        assert result.median_hours_to_answer == round(statistics.median([10, 30, 2]), 2) == 10
        doc = police.request_dict(db.session.get(type(request), ids[0]), now)
        assert doc["hours_to_answer"] == 10 and doc["status"] == "answered"
        assert police.request_dict(db.session.get(type(request), ids[4]), now)["overdue"]
        with pytest.raises(ConflictError):
            police.answer(db.session, ids[0], actor=cli)
        closed = police.close(db.session, ids[5], "withdrawn by the agency", actor=cli)
        assert closed.status == "closed"
        assert police.figures(db.session, now=now).open == 2
        # Open first, the overdue one (soonest due) at the top; then the rest, newest first.
        order = [r.id for r in police.list_requests(db.session)]
        assert order[:2] == [ids[4], ids[6]] and set(order[2:]) == set(ids) - {ids[4], ids[6]}
        assert order[2] == ids[5]  # closed, received most recently of the rest
        # Audit details hold ids and times, never the officer or their reference.
        details = json.dumps([e.details for e in db.session.execute(select(AuditEvent)).scalars()])
        assert "Kim" not in details and "2026-SMP-118" not in details


def test_requests_are_checked_and_linked_to_cases_the_actor_knows(app):
    make_user(app, "a@example.org", "liaison")
    make_user(app, "b@example.org", "liaison")
    now = utcnow()
    from moderation.accounts.settings import DEFAULT_CSAM_ROLES
    from moderation.cases import opening
    from moderation.cases.settings import CaseSettings

    with app.app_context():
        case = opening.open_case(
            db.session, [image_report(app, seed=70)], "ncii", actor=Actor.cli(),
            settings=CaseSettings(referral_hours=24), liaison_email="a@example.org",
        )  # fmt: skip
        b = Actor.of(
            db.session.execute(select(User).where(User.email == "b@example.org")).scalar_one(),
            DEFAULT_CSAM_ROLES,
        )
        with pytest.raises(NotFoundError):
            police.log_request(db.session, agency="KNPA", received_at=now, actor=b, case_id=case.id)
        with pytest.raises(ValidationError):
            police.log_request(db.session, agency=" ", received_at=now, actor=Actor.cli())
        with pytest.raises(ValidationError):
            police.log_request(
                db.session, agency="KNPA", received_at=now, due_at=now - timedelta(hours=1),
                actor=Actor.cli(),
            )  # fmt: skip
        with pytest.raises(ValidationError):
            police.log_request(
                db.session, agency="KNPA", received_at=now.replace(tzinfo=None), actor=Actor.cli()
            )


def test_police_commands(app, runner):
    opened = json.loads(
        runner.invoke(
            args=["case", "open", str(image_report(app, seed=71)), "--type", "ncii", "--json"]
        ).output
    )
    logged = runner.invoke(
        args=["police", "log", "--agency", "KNPA cyber unit",
              "--received-at", "2026-12-01T09:00:00+09:00", "--due-at", "2026-12-02T09:00:00+09:00",
              "--case", opened["number"], "--json"]
    )  # fmt: skip
    assert logged.exit_code == 0, logged.output
    request = json.loads(logged.output)
    assert (
        request["case_id"] == opened["id"] and request["received_at"] == "2026-12-01T00:00:00+00:00"
    )
    answered = runner.invoke(
        args=["police", "answer", str(request["id"]), "--at", "2026-12-01T15:30:00Z", "--json"]
    )
    assert json.loads(answered.output)["hours_to_answer"] == 15.5
    naive = runner.invoke(
        args=["police", "log", "--agency", "x", "--received-at", "2026-12-01T09:00"]
    )
    assert naive.exit_code != 0 and "time zone" in naive.output
    listed = json.loads(runner.invoke(args=["police", "list", "--json"]).output)
    assert [r["id"] for r in listed] == [request["id"]]
    assert json.loads(runner.invoke(args=["police", "list", "--open", "--json"]).output) == []
    figures = json.loads(runner.invoke(args=["police", "figures", "--json"]).output)
    assert figures["open"] == 0 and figures["window_days"] == 30
