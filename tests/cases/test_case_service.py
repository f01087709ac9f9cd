"""Cases: escalate a cluster -> open a case (CLI) with a spoken number, the escalation reason
kept and shown, the workflow with who and when, the referral clock, liaison visibility and the
suspected-CSAM rule, holds placed on escalation, and every change in an intact audit chain."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import AuditEvent, Case, CaseStatus, Decision, MediaHold, Report, User, utcnow
from moderation.audit import events as audit
from moderation.cases import opening, service
from moderation.cases.actor import Actor
from moderation.cases.settings import CaseSettings
from moderation.core.db import db
from moderation.core.errors import ConflictError, NotFoundError, ValidationError
from tests.cases.case_factories import escalate, fast_triage, status_of, triaged_cluster
from tests.factories import make_image, make_user
from tests.review.review_factories import image_report

SETTINGS = CaseSettings(referral_hours=24)


def _as(user: User) -> Actor:
    return Actor.of(user, SETTINGS.csam_roles)


def _actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars())


def _chain_ok(app) -> None:
    with app.app_context():
        audit.seal_pending(db.session)
        verdict = audit.verify_chain(db.session)
        assert verdict.ok and verdict.unsealed == 0, verdict


def _user(app, email: str) -> User:
    with app.app_context():
        return db.session.execute(select(User).where(User.email == email)).scalar_one()


def test_escalated_cluster_becomes_a_case_with_its_reasons(app, client, runner, tmp_path):
    fast_triage(app, tmp_path)
    senior = make_user(app, "lead@example.org", "senior")
    make_user(app, "liaison@example.org", "liaison")
    ids = triaged_cluster(app, client)
    escalate(app, ids[0], senior, "threats with an address", cluster=True)
    assert {status_of(app, report_id) for report_id in ids} == {"escalated"}
    with app.app_context():
        # The escalation, once final, holds every medium of every report (issue 11 item 5).
        held = db.session.execute(select(MediaHold).where(MediaHold.case_id.is_(None))).scalars()
        assert sorted(hold.report_id for hold in held) == ids
    result = runner.invoke(
        args=[
            "case", "open", *map(str, ids), "--type", "ncii", "--liaison",
            "liaison@example.org", "--urgency", "urgent", "--json",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    year = utcnow().year
    assert doc["number"] == f"C-{year}-0001" and doc["id"]
    assert doc["type"] == "ncii" and doc["urgency"] == "urgent" and doc["status"] == "open"
    assert doc["assigned_liaison"] == "liaison@example.org"
    assert [r["id"] for r in doc["reports"]] == ids
    for report in doc["reports"]:
        # The moderator's reason is kept and shown, with who escalated.
        assert report["escalation"]["reason"] == "threats with an address"
        assert report["escalation"]["by"] == "lead@example.org"
    assert doc["referral"]["state"] == "running"
    assert 23 * 3600 < doc["referral"]["seconds_left"] <= 24 * 3600
    assert doc["holds"]["active"] == len(ids)

    shown = runner.invoke(args=["case", "show", doc["number"]])
    assert shown.exit_code == 0 and "threats with an address" in shown.output
    listed = json.loads(runner.invoke(args=["case", "list", "--json"]).output)
    assert [c["number"] for c in listed] == [doc["number"]] and listed[0]["report_count"] == 3

    second = runner.invoke(args=["case", "open", str(ids[0]), "--type", "other", "--json"])
    assert json.loads(second.output)["number"] == f"C-{year}-0002"
    assert _actions(app).count("case.open") == 2
    _chain_ok(app)


def test_case_open_escalates_what_was_not_escalated_as_the_commands_doing(app, runner):
    report_id = image_report(app, seed=3)
    result = runner.invoke(
        args=["case", "open", str(report_id), "--type", "doxxing_incitement", "--json",
              "--reason", "address posted"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert status_of(app, report_id) == "escalated"
    with app.app_context():
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "decision.escalate")
        ).scalar_one()
        assert event.actor_kind == "cli" and event.object_id == str(report_id)
        decision = db.session.execute(select(Decision)).scalar_one()
        assert decision.action == "escalate" and decision.reason == "address posted"
        reasons = {hold.reason for hold in db.session.execute(select(MediaHold)).scalars()}
        assert reasons == {"escalation", "case"}
    doc = json.loads(runner.invoke(args=["case", "show", "1", "--json"]).output)
    assert doc["reports"][0]["escalation"]["reason"] == "address posted"
    assert doc["reports"][0]["escalation"]["by"] is None  # the command line


def test_case_open_refuses_clearly(app, runner):
    missing = runner.invoke(args=["case", "open", "999", "--type", "ncii", "--json"])
    assert missing.exit_code == 1 and json.loads(missing.output)["error"] == "not_found"
    in_triage = image_report(app, seed=4, status="triaging")
    refused = runner.invoke(args=["case", "open", str(in_triage), "--type", "ncii", "--json"])
    assert refused.exit_code == 1 and json.loads(refused.output)["error"] == "not_triaged"
    queued = image_report(app, seed=5)
    bad_liaison = runner.invoke(
        args=["case", "open", str(queued), "--type", "ncii", "--liaison", "x@example.org"]
    )
    assert bad_liaison.exit_code == 1 and "no active liaison" in bad_liaison.output
    with app.app_context():
        # Refused means nothing half-written: no case, no escalation.
        assert db.session.execute(select(Case)).first() is None
        assert db.session.get(Report, queued).status == "queued"


def test_workflow_records_who_and_when_and_the_referral_clock(app, runner):
    senior = make_user(app, "lead@example.org", "senior")
    report_id = image_report(app, seed=6)
    with app.app_context():
        actor = _as(db.session.get(User, senior))
        case = opening.open_case(db.session, [report_id], "ncii", actor=actor, settings=SETTINGS)
        with pytest.raises(ConflictError):
            service.advance(db.session, case.id, "acknowledged", actor=actor)
        with pytest.raises(ValidationError):
            service.advance(db.session, case.id, "closed", actor=actor)
        case = service.advance(db.session, case.id, "referred", actor=actor)
        assert case.referred_by_id == senior and case.referred_at is not None
        assert service.referral_clock(case).state == "met"
        service.add_note(db.session, case.id, "officer called back", actor=actor)
        case_id = case.id
    assert runner.invoke(args=["case", "status", str(case_id), "acknowledged"]).exit_code == 0
    closed = runner.invoke(
        args=["case", "status", str(case_id), "closed", "--reason", "charged", "--json"]
    )
    assert json.loads(closed.output)["status"] == "closed"
    doc = json.loads(runner.invoke(args=["case", "show", str(case_id), "--json"]).output)
    assert doc["workflow"]["referred"]["by"] == "lead@example.org"
    assert doc["workflow"]["acknowledged"]["at"] and doc["workflow"]["acknowledged"]["by"] is None
    assert doc["workflow"]["closed"]["reason"] == "charged"
    assert doc["notes"][0]["body"] == "officer called back"
    assert [e for e in _actions(app) if e.startswith("case.")] == [
        "case.open", "case.status", "case.note", "case.status", "case.status",
    ]  # fmt: skip
    _chain_ok(app)


def test_referral_clock_breaches_when_nobody_refers():
    now = utcnow()
    case = Case(
        status=CaseStatus.OPEN, opened_at=now - timedelta(hours=30),
        referral_due_at=now - timedelta(hours=6),
    )  # fmt: skip
    assert service.referral_clock(case, now).state == "breached"
    case.referred_at = now - timedelta(hours=7)
    assert service.referral_clock(case, now).state == "met"
    case.referred_at = now
    assert service.referral_clock(case, now).state == "breached"


def test_liaisons_see_their_cases_and_unassigned_ones_only(app):
    make_user(app, "a@example.org", "liaison")
    make_user(app, "b@example.org", "liaison")
    make_user(app, "mod@example.org", "moderator")
    with app.app_context():
        cli = Actor.cli()
        mine = opening.open_case(
            db.session, [image_report(app, seed=7)], "ncii", actor=cli, settings=SETTINGS,
            liaison_email="a@example.org",
        )  # fmt: skip
        loose = opening.open_case(
            db.session, [image_report(app, seed=8)], "ncii", actor=cli, settings=SETTINGS
        )
    a, b = _user(app, "a@example.org"), _user(app, "b@example.org")
    moderator = _user(app, "mod@example.org")
    with app.app_context():
        seen_by_b = {c.id for c in service.list_cases(db.session, _as(b))}
        assert seen_by_b == {loose.id}
        assert {c.id for c in service.list_cases(db.session, _as(a))} == {mine.id, loose.id}
        with pytest.raises(NotFoundError):
            service.get_case(db.session, mine.id, _as(b))
        assert service.list_cases(db.session, _as(moderator)) == []


def test_suspected_csam_cases_keep_the_csam_roles_rule(app):
    make_user(app, "liaison@example.org", "liaison")
    make_user(app, "lead@example.org", "senior")
    csam_report = image_report(app, seed=9, category="csam_suspected")
    # Same bytes as the CSAM report, filed as NCII: restricted all the same.
    copy = image_report(app, seed=9, category="ncii")
    with app.app_context():
        with pytest.raises(ValidationError, match="CSAM_ROLES"):
            opening.open_case(
                db.session, [copy], "other", actor=Actor.cli(), settings=SETTINGS,
                liaison_email="liaison@example.org",
            )  # fmt: skip
        case = opening.open_case(
            db.session, [csam_report], "csam_suspected", actor=Actor.cli(), settings=SETTINGS
        )
        liaison, senior = _user(app, "liaison@example.org"), _user(app, "lead@example.org")
        assert service.list_cases(db.session, _as(liaison)) == []
        with pytest.raises(NotFoundError):
            service.get_case(db.session, case.id, _as(liaison))
        with pytest.raises(ValidationError):
            service.assign(
                db.session, case.id, "liaison@example.org", actor=Actor.cli(), settings=SETTINGS
            )
        assert [c.id for c in service.list_cases(db.session, _as(senior))] == [case.id]
        # A liaison cannot pull a CSAM report into a case either: it does not exist for them.
        with pytest.raises(NotFoundError):
            opening.open_case(
                db.session, [csam_report], "ncii", actor=_as(liaison), settings=SETTINGS
            )


def test_moderators_cannot_open_cases(app):
    moderator = make_user(app, "mod@example.org", "moderator")
    report_id = image_report(app, seed=10)
    from moderation.core.errors import ForbiddenError

    with app.app_context():
        with pytest.raises(ForbiddenError):
            opening.open_case(
                db.session, [report_id], "ncii",
                actor=_as(db.session.get(User, moderator)), settings=SETTINGS,
            )  # fmt: skip


def test_adding_a_copy_to_a_case_holds_it_too(app, runner):
    first = image_report(app, seed=11)
    second = image_report(app, seed=12)
    opened = json.loads(
        runner.invoke(args=["case", "open", str(first), "--type", "ncii", "--json"]).output
    )
    added = runner.invoke(args=["case", "add", opened["number"], str(second), "--json"])
    assert json.loads(added.output)["added_report_ids"] == [second]
    again = runner.invoke(args=["case", "add", str(opened["id"]), str(second), "--json"])
    assert json.loads(again.output)["added_report_ids"] == []  # nothing twice
    with app.app_context():
        case_holds = db.session.execute(
            select(MediaHold.report_id).where(MediaHold.case_id == opened["id"])
        ).scalars()
        assert sorted(case_holds) == [first, second]
    assert make_image(0)  # generated media only


def test_openers_racing_get_distinct_consecutive_numbers(app):
    """Four openers at the same moment: the unique (year, sequence) settles it (PostgreSQL;
    SQLite has one writer and serialises them anyway)."""
    import threading

    if not app.config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("concurrent writers need PostgreSQL")
    report_ids = [image_report(app, seed=20 + n) for n in range(4)]
    barrier = threading.Barrier(len(report_ids))
    numbers: list[str] = []
    errors: list[BaseException] = []

    def open_one(report_id: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                case = opening.open_case(
                    db.session, [report_id], "ncii", actor=Actor.cli(), settings=SETTINGS
                )
                numbers.append(case.number)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(rid,)) for rid in report_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    year = utcnow().year
    assert sorted(numbers) == [f"C-{year}-{n:04d}" for n in range(1, 5)]


def test_escalated_reports_are_listed_with_their_reasons_and_cases(app, runner):
    moderator = make_user(app, "mod@example.org", "moderator")
    waiting, taken = image_report(app, seed=30), image_report(app, seed=31)
    for report_id, reason in ((waiting, "threat to post more"), (taken, "minor may be shown")):
        with app.app_context():
            report = db.session.get(Report, report_id)
            from moderation.review import decisions, finalize

            choice = decisions.DecisionInput("escalate", reason=reason)
            decisions.decide(db.session, report, moderator, choice, 0, 5)
            finalize.finalize_due(db.session)
    opened = json.loads(
        runner.invoke(args=["case", "open", str(taken), "--type", "other", "--json"]).output
    )
    listed = json.loads(runner.invoke(args=["case", "escalations", "--json"]).output)
    assert [(r["report_id"], r["escalation"]["reason"], r["case_ids"]) for r in listed] == [
        (taken, "minor may be shown", [opened["id"]]),
        (waiting, "threat to post more", []),
    ]
    assert listed[0]["escalation"]["by"] == "mod@example.org"
    only_waiting = json.loads(
        runner.invoke(args=["case", "escalations", "--waiting", "--json"]).output
    )
    assert [r["report_id"] for r in only_waiting] == [waiting]
    # What a liaison may see is the permission module's clause, as on every report list.
    from moderation.accounts.permissions import visible_reports_clause
    from moderation.cases.escalation import escalated_reports

    make_user(app, "liaison@example.org", "liaison")
    with app.app_context():
        liaison = db.session.execute(
            select(User).where(User.email == "liaison@example.org")
        ).scalar_one()
        rows = escalated_reports(db.session, visible_reports_clause(_as(liaison).principal))
        assert [report.id for report, _, _ in rows] == [taken, waiting]
