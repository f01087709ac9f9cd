"""Re-scoring waiting reports as they age against their SLA (triage/aging.py), with the clock
driven by the test (`now` passed in), never by sleeping."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from models import AuditEvent, Report, ReportStatus, utcnow
from moderation.core.db import db
from moderation.core.queueing import RESCORE_AGING_REPORTS
from moderation.core.scheduling import periodic_jobs
from moderation.triage import aging
from moderation.triage.pipeline import TriageSettings
from tests.review.review_factories import make_report


def _settings(app) -> TriageSettings:
    return TriageSettings.from_config(app.config, app.instance_path)


def _report(app, report_id: int) -> Report:
    with app.app_context():
        report = db.session.get(Report, report_id)
        assert report is not None
        return report


def _codes(report: Report) -> dict[str, int]:
    return {reason["code"]: reason["points"] for reason in report.priority_reasons}


def test_open_reports_are_rescored_when_their_sla_step_changes(app):
    # ncii has a 24 h SLA: 8 "sla.elapsed" points reached in steps of 3 h, then "sla.overdue".
    young = make_report(app, category="ncii", age_hours=1)
    overdue = make_report(app, category="ncii", age_hours=30, status=ReportStatus.IN_REVIEW)
    decided = make_report(app, category="ncii", age_hours=30, status=ReportStatus.DECIDED)
    with app.app_context():
        events = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
        start = utcnow()
        # The young report is at 0 points now: only the overdue one is stale.
        assert aging.rescore_aging_reports(db.session, _settings(app), now=start) == [overdue]
        later = start + timedelta(hours=5)  # 6 h of 24 h: two steps of sla.elapsed
        assert aging.rescore_aging_reports(db.session, _settings(app), now=later) == [young]
        # Nothing moved a step since: a second run at the same time changes nothing.
        assert aging.rescore_aging_reports(db.session, _settings(app), now=later) == []
        after = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    assert after == events  # priority is derived data: no audit trail
    assert _codes(_report(app, overdue))["sla.overdue"] == 10
    rescored = _report(app, young)
    assert _codes(rescored)["sla.elapsed"] == 2
    assert rescored.priority == sum(_codes(rescored).values())
    # The stale factory reason was replaced by the policy's own.
    assert _codes(rescored)["category.ncii"] == 30
    untouched = _report(app, decided)
    assert untouched.priority == 50 and "sla.overdue" not in _codes(untouched)


def test_a_run_is_bounded_and_takes_the_oldest_first(app):
    ids = [make_report(app, category="ncii", age_hours=hours) for hours in (10, 20, 15)]
    with app.app_context():
        now = utcnow()
        assert aging.rescore_aging_reports(db.session, _settings(app), now=now, limit=2) == [
            ids[1],
            ids[2],
        ]
        assert aging.rescore_aging_reports(db.session, _settings(app), now=now) == [ids[0]]


def test_rescoring_keeps_the_cluster_reshare_points(app):
    first = make_report(app, category="ncii", age_hours=7, cluster_id=900)
    make_report(app, category="ncii", age_hours=1, cluster_id=900)
    with app.app_context():
        from models import Cluster

        db.session.get(Cluster, 900).report_count = 2
        db.session.commit()
        assert aging.rescore_aging_reports(db.session, _settings(app)) == [first]
    assert _codes(_report(app, first))["reshares"] == 3


def test_the_job_is_scheduled_and_runs(app):
    assert (RESCORE_AGING_REPORTS, 300) in periodic_jobs(app.config)
    overdue = make_report(app, category="csam_suspected", age_hours=5)
    from workers.jobs import rescore_aging_reports

    assert rescore_aging_reports() == 1
    assert "sla.overdue" in _codes(_report(app, overdue))


def test_a_changed_category_is_rescored_even_without_its_job(app):
    """A category raised upstream queues a re-score job; if Redis lost it, this pass still
    notices the stored category reason no longer matches the row."""
    from sqlalchemy import update

    report_id = make_report(app, category="ncii", age_hours=1)
    with app.app_context():
        now = utcnow()
        assert aging.rescore_aging_reports(db.session, _settings(app), now=now) == []
        db.session.execute(
            update(Report).where(Report.id == report_id).values(category="csam_suspected")
        )
        db.session.commit()
        assert aging.rescore_aging_reports(db.session, _settings(app), now=now) == [report_id]
        assert aging.rescore_aging_reports(db.session, _settings(app), now=now) == []
    codes = _codes(_report(app, report_id))
    assert "category.csam_suspected" in codes and "minor.suspected" in codes
    assert "category.ncii" not in codes


def test_the_rescore_job_leaves_reports_that_are_not_open(app):
    from workers.jobs import rescore_report

    waiting = make_report(app, category="ncii", age_hours=30)
    decided = make_report(app, category="ncii", age_hours=30, status=ReportStatus.DECIDED)
    assert rescore_report(waiting) is True
    assert rescore_report(decided) is False
    assert "sla.overdue" in _codes(_report(app, waiting))
    assert "sla.overdue" not in _codes(_report(app, decided))
