"""The dashboard's figures and charts data, and the job queue health page."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from rq import SimpleWorker
from rq.serializers import JSONSerializer

from models import Decision, DecisionState, Report, ReportStatus
from moderation.core.db import db
from moderation.core.queueing import JobSpec, enqueue, queue
from moderation.core.redis_conn import get_redis
from tests.factories import login, make_user
from tests.review.review_factories import make_report


def _data(html: str) -> dict:
    block = re.search(
        r'<script type="application/json" id="dashboard-data">(.*?)</script>', html, re.S
    )
    assert block, "no data block"
    return json.loads(block.group(1))


def _decided(
    app, category: str, age_hours: float, decided_after_hours: float, action: str = "remove.ncii"
) -> None:
    report_id = make_report(
        app, category=category, age_hours=age_hours, status=ReportStatus.DECIDED
    )
    with app.app_context():
        report = db.session.get(Report, report_id)
        db.session.add(
            Decision(
                report_id=report_id,
                action=action,
                state=DecisionState.FINAL,
                created_at=report.received_at + timedelta(hours=decided_after_hours),
            )
        )
        db.session.commit()


def test_dashboard_figures(app, client):
    app.config["SLA_HOURS"] = {"ncii": 24, "default": 72}
    make_user(app, "senior@example.org", role="senior")
    make_report(app, category="ncii", age_hours=10)
    make_report(app, category="ncii", age_hours=2)
    make_report(app, category="doxxing", age_hours=1)
    make_report(app, category="csam_suspected", age_hours=50)  # seniors may see these
    _decided(app, "ncii", age_hours=30, decided_after_hours=2)  # met
    _decided(app, "ncii", age_hours=40, decided_after_hours=30)  # missed
    login(client, "senior@example.org")
    response = client.get("/dashboard/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "vendor/chart.js-4.6.1.umd.min.js" in html and "js/dashboard.js" in html
    figures = _data(html)["figures"]
    assert figures["categories"]["ncii"]["depth"] == 2
    assert figures["categories"]["ncii"]["oldest_hours"] >= 9.9
    assert figures["categories"]["ncii"]["sla_met"] == 1
    assert figures["categories"]["ncii"]["sla_missed"] == 1
    assert figures["depth_total"] == 4 and figures["sla_compliance"] == 50.0
    assert len(figures["decisions_per_hour"]["counts"]) == 24


def test_dashboard_is_for_seniors_and_admins(app, client):
    make_user(app)
    login(client)
    assert client.get("/dashboard/").status_code == 403
    assert client.get("/dashboard/jobs").status_code == 403


def boom() -> None:
    raise ValueError("contains victim@example.org and https://secret.example/img.jpg")


def test_jobs_page_shows_failures_without_sensitive_data(app, client):
    make_user(app, "admin@example.org", role="admin")
    with app.app_context():
        connection = get_redis()
        job = enqueue(JobSpec(f"{__name__}.boom", "maintenance", timeout=30, retries=0), connection)
        SimpleWorker(
            [queue("maintenance", connection)], connection=connection, serializer=JSONSerializer
        ).work(burst=True)
    login(client, "admin@example.org")
    html = client.get("/dashboard/jobs").get_data(as_text=True)
    assert job.id in html and "ValueError" in html
    assert "victim@example.org" not in html and "secret.example" not in html
    assert 'data-queue="triage"' in html


def test_dashboard_in_korean(app, client):
    make_user(app, "admin@example.org", role="admin")
    login(client, "admin@example.org")
    assert "대기 건수" in client.get("/dashboard/?lang=ko").get_data(as_text=True)


def test_an_escalation_is_not_sla_met_and_categories_are_named(app, client):
    """Issue 14 item 12: an escalation counted as "SLA met", and raw codes showed."""
    make_user(app, "senior@example.org", role="senior")
    _decided(app, "sexual_harassment", age_hours=30, decided_after_hours=1, action="escalate")
    _decided(app, "sexual_harassment", age_hours=30, decided_after_hours=1)
    login(client, "senior@example.org")
    html = client.get("/dashboard/?lang=ko").get_data(as_text=True)
    data = _data(html)
    assert data["figures"]["categories"]["sexual_harassment"]["sla_met"] == 1
    assert data["category_labels"]["sexual_harassment"] != "sexual_harassment"
    assert "<td>sexual_harassment</td>" not in html
