"""Factories for the case tests, through the real services: reports come in through the signed
intake API and the triage worker (so media, hashes, custody data and clusters are what
production makes), and escalation is the decision service's "escalate" made final."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from models import Report
from moderation.core.db import db
from moderation.review import decisions, finalize
from tests.factories import make_image, make_platform, post_report, report_body, run_worker_burst


def fast_triage(app, tmp_path: Path) -> None:
    """Private indexes per test, and no classifier (not what these tests are about)."""
    app.config["MEDIA_INDEX_DIR"] = str(tmp_path / "media-index")
    app.config["BANK_INDEX_DIR"] = str(tmp_path / "bank-index")
    app.config["CLASSIFIER_MODEL"] = ""


def reencoded(data: bytes, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).save(out, format=fmt)
    return out.getvalue()


def triaged_reports(app, client, media_sets: list[list[bytes]], **body) -> list[int]:
    """Post one report per media set through the intake API and triage them all."""
    platform = make_platform(app)
    ids = []
    for number, media in enumerate(media_sets):
        payload = report_body(media, **body)
        payload["content"]["url"] = f"https://social.example/p/{number + 1}"
        payload["reported_at"] = f"2026-11-2{number}T10:00:00Z"
        response = post_report(client, platform, payload)
        assert response.status_code == 202, response.get_data(as_text=True)
        ids.append(response.get_json()["id"])
    run_worker_burst(app)
    return ids


def triaged_cluster(app, client, seed: int = 90, copies: int = 3) -> list[int]:
    """`copies` reports of one generated picture (byte-identical and re-encoded): one cluster."""
    original = make_image(seed, (480, 360))
    sets = [[original if n % 2 == 0 else reencoded(original)] for n in range(copies)]
    ids = triaged_reports(app, client, sets)
    with app.app_context():
        clusters = {db.session.get(Report, report_id).cluster_id for report_id in ids}
    assert len(clusters) == 1 and None not in clusters, clusters
    return ids


def escalate(app, report_id: int, user_id: int, reason: str, cluster: bool = False) -> None:
    """Escalate through the decision service and let the decision become final."""
    with app.app_context():
        report = db.session.get(Report, report_id)
        choice = decisions.DecisionInput("escalate", reason=reason, note="see the channel")
        if cluster:
            decisions.decide_cluster(
                db.session, report.cluster_id, user_id, choice, 0, 5, lambda other: True
            )
        else:
            decisions.decide(db.session, report, user_id, choice, 0, 5)
        finalize.finalize_due(db.session)


def status_of(app, report_id: int) -> str:
    with app.app_context():
        return db.session.execute(select(Report.status).where(Report.id == report_id)).scalar_one()
