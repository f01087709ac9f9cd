"""The transparency report's figures equal counts the test computes from the rows it created
through intake, the decision service, appeals and police requests; the CLI's CSV and JSON and
the admin page agree."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from statistics import median

from sqlalchemy import select, update

from models import Decision, Report, utcnow
from moderation.core.db import db
from moderation.outcomes import appeals
from tests.cases.case_factories import fast_triage
from tests.factories import (
    login,
    make_image,
    make_platform,
    make_user,
    post_report,
    report_body,
    run_worker_burst,
)
from tests.outcomes.outcome_factories import decide


def test_figures_equal_the_rows(app, client, tmp_path):
    fast_triage(app, tmp_path)
    app.config["SLA_HOURS"] = {"default": 24}
    platform = make_platform(app)
    flagger = make_platform(app, "helpline", kind="trusted_flagger")
    plan = [  # (platform, category, action, hours from receipt to the decision)
        (platform, "ncii", "remove.ncii", 2),
        (platform, "ncii", "remove.ncii", 30),
        (platform, "doxxing", "no_violation", 5),
        (flagger, "ncii", "escalate", 1),
        (flagger, "synthetic_sexual", None, None),  # not decided yet
    ]
    ids = []
    for seed, (source, category, _, _) in enumerate(plan):
        body = report_body([make_image(80 + seed)], category=category)
        ids.append(post_report(client, source, body).get_json()["id"])
    run_worker_burst(app)
    now = utcnow()
    for report_id, (_, _, action, hours) in zip(ids, plan, strict=True):
        if action is None:
            continue
        decide(app, report_id, action)
        with app.app_context():  # move the receipt back so the decision took `hours`
            decided_at = db.session.execute(
                select(Decision.created_at).where(Decision.report_id == report_id)
            ).scalar_one()
            db.session.execute(
                update(Report)
                .where(Report.id == report_id)
                .values(received_at=decided_at - timedelta(hours=hours))
            )
            db.session.commit()
    senior_id = make_user(app, "second@example.org", "senior")
    raw = json.dumps({"statement": "mine"}).encode()
    from tests.factories import signed_headers

    client.post(
        f"/api/v1/platforms/acme/reports/{ids[0]}/appeal",
        data=raw,
        headers=signed_headers(platform.webhook_secret, raw),
    )
    with app.app_context():
        from models import Appeal, User

        appeal_id = db.session.execute(select(Appeal.id)).scalar_one()
        appeals.decide_appeal(
            db.session, appeal_id, db.session.get(User, senior_id), "reversed", "consent"
        )

    day = now.date()
    start, end = (day - timedelta(days=3)).isoformat(), (day + timedelta(days=1)).isoformat()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["report", "transparency", "--from", start, "--to", end])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["notices"]["total"] == 5
    assert report["notices"]["by_category"] == {"doxxing": 1, "ncii": 3, "synthetic_sexual": 1}
    assert report["notices"]["from_trusted_flaggers"] == 2
    assert report["actions"]["by_policy"] == {"escalate": 1, "no_violation": 1, "remove.ncii": 2}
    assert report["actions"]["removals"] == 2
    hours = [2, 30, 5, 1]
    assert report["time_to_action_hours"]["median"] == round(median(hours), 2)
    assert report["within_sla"] == {"decided": 4, "within": 3, "share": 0.75}
    assert report["law_enforcement"]["escalations"] == 1
    assert report["appeals"]["received"] == 1 and report["appeals"]["reversed"] == 1
    assert report["reversals"] == 1

    as_csv = runner.invoke(
        args=["report", "transparency", "--from", start, "--to", end, "--format", "csv"]
    )
    rows = {
        (r["section"], r["key"]): r["value"] for r in csv.DictReader(io.StringIO(as_csv.output))
    }
    assert rows[("notices", "total")] == "5" and rows[("within_sla", "share")] == "0.75"

    make_user(app, "admin@example.org", "admin")
    admin = app.test_client()
    login(admin, "admin@example.org")
    page = admin.get(f"/admin/transparency/?from={start}&to={end}&lang=en").get_data(as_text=True)
    assert 'data-t="notices">5<' in page and 'data-t="actions">4<' in page
    download = admin.get(f"/admin/transparency/?from={start}&to={end}&format=json")
    assert json.loads(download.data) == report
    bad = runner.invoke(args=["report", "transparency", "--from", "2026-13-01", "--to", end])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output
