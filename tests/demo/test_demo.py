"""`moderation demo`: synthetic reports through the real intake (one through the victim portal,
with made-up contact details sealed), triaged by a real worker."""

from __future__ import annotations

import json

from sqlalchemy import select

from models import Case, Report, ReportStatus, SealedContact
from moderation.core.db import db
from moderation.demo.seed import DEMO_REPORTS
from tests.factories import run_worker_burst


def test_demo_loads_reports_that_a_worker_triages(app, runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert len(summary["reports"]) == len(DEMO_REPORTS) + 1
    assert summary["login"]["email"] == "demo@example.org" and summary["login"]["totp_secret"]
    assert len(summary["login"]["recovery_codes"]) == 10
    assert summary["case"].startswith("C-") and summary["liaison_login"]["email"]
    run_worker_burst(app)
    with app.app_context():
        reports = db.session.execute(select(Report).where(Report.id.in_(summary["reports"])))
        statuses = [r.status for r in reports.scalars()]
        # The demo's first picture and its re-share are escalated into the demo case.
        assert statuses.count(ReportStatus.ESCALATED) == 2
        assert set(statuses) == {ReportStatus.QUEUED, ReportStatus.ESCALATED}
        case = db.session.execute(select(Case)).scalar_one()
        assert case.number == summary["case"]
        # The demo bank (a hotline's list) matches the demo's second report out of the box.
        matched = db.session.get(Report, summary["reports"][1])
        assert any(r["code"].startswith("bank.") for r in matched.priority_reasons)
        [sealed] = db.session.execute(select(SealedContact)).scalars().all()
        portal = db.session.get(Report, summary["reports"][-1])
        assert sealed.report_id == portal.id and portal.reporter_kind == "victim"
