"""A triage that lost its report writes nothing: if the sweeper gave the report away while this
worker ran (its heartbeat stalled past TRIAGE_DEAD_AFTER_SECONDS) and another worker claimed
it, the first triage stops at its final step instead of triaging the report a second time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import AuditEvent, MediaHash, Report, ReportStatus
from moderation.core.db import db
from moderation.media.store import media_store_for
from moderation.settings import settings_for
from moderation.triage import clusters, pipeline, sweeper
from moderation.triage.ownership import claim
from tests.cases.case_factories import fast_triage
from tests.factories import make_image, make_platform, post_report, report_body


def _triaged_events(report_id: int) -> int:
    return db.session.execute(
        select(func.count()).where(
            AuditEvent.action == "report.triaged", AuditEvent.object_id == str(report_id)
        )
    ).scalar_one()


def test_a_triage_whose_report_was_given_away_writes_nothing(
    app, client, monkeypatch, tmp_path: Path
) -> None:
    fast_triage(app, tmp_path)
    platform = make_platform(app)
    report_id = post_report(client, platform, report_body([make_image(71)])).get_json()["id"]
    original_lock = clusters.lock_clusters

    def give_away_first(session: Session) -> None:
        # While this triage analysed, its heartbeat stalled: the sweeper gives the report
        # back and another worker claims it (both on their own connections).
        with Session(db.engine) as sweeper_session:
            now_dead = timedelta(seconds=-1)  # everything triaging counts as dead
            assert sweeper.release_dead(sweeper_session, now_dead, now_dead) == [report_id]
        with Session(db.engine) as other_worker:
            assert claim(other_worker, report_id, timedelta(minutes=15)) is not None
        monkeypatch.setattr(clusters, "lock_clusters", original_lock)
        original_lock(session)

    monkeypatch.setattr(clusters, "lock_clusters", give_away_first)
    with app.app_context():
        settings = settings_for(app).triage
        outcome = pipeline.triage_report(
            db.session, media_store_for(app.config), report_id, settings
        )
        assert outcome == "lost"
        report = db.session.get(Report, report_id, populate_existing=True)
        # The other worker's claim stands; nothing of the first triage was written.
        assert report.status == ReportStatus.TRIAGING and report.triage_attempts == 2
        assert report.priority_reasons in (None, [])
        assert _triaged_events(report_id) == 0
        assert db.session.execute(select(func.count()).select_from(MediaHash)).scalar_one() == 0
        db.session.rollback()

        # The other worker's triage (here: the same code, under the second claim) counts once.
        released = sweeper.release_dead(db.session, timedelta(seconds=-1), timedelta(seconds=-1))
        assert released == [report_id]
        assert (
            pipeline.triage_report(db.session, media_store_for(app.config), report_id, settings)
            == "done"
        )
        assert _triaged_events(report_id) == 1
