"""Job functions, importable by dotted name; arguments are ids only."""

from __future__ import annotations

import logging

from rq import get_current_job

from moderation.audit import events as audit
from moderation.core.db import db
from moderation.core.redis_conn import get_redis
from moderation.media.store import media_store_for
from moderation.settings import settings_for
from moderation.triage import pipeline as triage
from moderation.triage import sweeper
from moderation.triage.heartbeat import heartbeat
from workers.context import app_context

log = logging.getLogger(__name__)


def _job_id() -> str:
    job = get_current_job()
    return job.id if job else "-"


def triage_report(report_id: int) -> str:
    """Hash, classify and prioritise one report. Idempotent: a done report is skipped."""
    from moderation.outcomes.auto_decide import auto_decide

    with app_context() as app:
        log.info("[%s] triage report %s", _job_id(), report_id)
        settings = settings_for(app)
        # The heartbeat tells the sweeper this report's worker is alive (triage/heartbeat.py).
        with heartbeat(db.engine, int(report_id)):
            outcome = triage.triage_report(
                db.session, media_store_for(app.config), int(report_id), settings.triage
            )
        # An exact re-share of confirmed content may be decided at once (off by default).
        if auto_decide(db.session, int(report_id), settings.auto_decide):
            log.info("[%s] report %s decided as an exact re-share", _job_id(), report_id)
        return outcome


def rescore_report(report_id: int) -> bool:
    """Re-score one open report (its category changed upstream); False if it is not open."""
    from moderation.triage.rescoring import rescore_reports

    with app_context() as app:
        settings = settings_for(app).triage
        return bool(rescore_reports(db.session, settings, [int(report_id)]))


def seal_audit_log() -> int:
    """Link recorded audit events onto the hash chain."""
    with app_context():
        sealed = audit.seal_pending(db.session)
        log.info("[%s] sealed %d audit event(s)", _job_id(), sealed)
        return sealed


def sweep_pending() -> list[int]:
    """Re-enqueue reports that were acknowledged but never triaged."""
    with app_context() as app:
        enqueued = sweeper.sweep_pending(db.session, get_redis(), settings_for(app).sweep)
        log.info("[%s] sweeper re-enqueued %d report(s)", _job_id(), len(enqueued))
        return enqueued


def maintain_bank_index() -> dict:
    """Refresh this worker's bank index; rebuild the shared base from the database when the
    delta has grown or the base is old (other processes switch on their next refresh)."""
    from moderation.settings import settings_for

    with app_context() as app:
        stats = settings_for(app).bank_index_handle().maintain(db.session)
        log.info(
            "[%s] bank index: %s entries, delta %s, rebuilt %s",
            _job_id(),
            stats.get("entries"),
            stats.get("delta"),
            stats.get("rebuilt"),
        )
        return stats


def finalize_decisions() -> int:
    """Make final every decision whose undo window has passed, running its side effects.
    Idempotent and safe beside web processes doing the same (see review/decisions.py)."""
    from moderation.review import finalize

    with app_context():
        finalized = finalize.finalize_due(db.session, limit=1000)
        log.info("[%s] finalised %d decision(s)", _job_id(), len(finalized))
        return len(finalized)


def dispatch_callbacks() -> int:
    """Put one delivery job per due callback on the `callbacks` queue, unless one is already
    waiting (a dead worker's job is replaced; the delivery's lease keeps two from sending)."""
    from moderation.core.queueing import enqueue_callback
    from moderation.outcomes import callbacks

    with app_context() as app:
        lease = settings_for(app).callbacks.lease
        due = callbacks.due_deliveries(db.session)  # pending, due, and no live lease on it
        db.session.commit()
        # A due delivery nobody holds whose job says it started longer ago than a lease lost
        # its worker mid-attempt (a live attempt holds the lease): replace that job.
        enqueued = sum(
            1
            for delivery_id, _ in due
            if enqueue_callback(get_redis(), delivery_id, unclaimed_for=lease) is not None
        )
        log.info("[%s] dispatched %d callback deliveries", _job_id(), enqueued)
        return enqueued


def deliver_callback(delivery_id: int) -> str | None:
    """One attempt at one decision callback; never raises for the receiver's failures (they
    are recorded and rescheduled on the delivery)."""
    from moderation.outcomes import callbacks

    with app_context() as app:
        result = callbacks.deliver(db.session, int(delivery_id), settings_for(app).callbacks)
        if result is not None:
            # Ids and codes only: the URL is the platform's and never logged.
            log.info(
                "[%s] callback delivery %s: %s (%s)",
                _job_id(),
                delivery_id,
                result.state,
                result.status_code or result.error,
            )
        return result.state if result else None


def rescore_aging_reports() -> int:
    """Re-score open reports whose SLA points changed as they aged (bounded per run)."""
    from moderation.triage import aging

    with app_context() as app:
        settings = settings_for(app).triage
        rescored = aging.rescore_aging_reports(db.session, settings)
        log.info("[%s] re-scored %d aging report(s)", _job_id(), len(rescored))
        return len(rescored)


def shred_expired_media() -> int:
    """Crypto-shred unheld originals past RETENTION_DAYS (bounded per run; the next run goes
    on). Idempotent: shredded media are recorded and skipped."""
    from moderation.cases.retention import run_retention
    from moderation.cases.settings import CaseSettings

    with app_context() as app:
        run = run_retention(
            db.session, media_store_for(app.config), CaseSettings.from_config(app.config)
        )
        log.info(
            "[%s] retention shredded %d medium(s), %d due but held",
            _job_id(),
            len(run.shredded),
            run.held,
        )
        return len(run.shredded)


def _notification_settings(app):  # type: ignore[no-untyped-def]
    return settings_for(app).notifications


def send_mail(mail_id: int) -> str | None:
    """One attempt at one recorded message (moderation/notifications/outbox.py). Raises when
    the server refused it, so RQ retries it (MAIL_RETRY_SECONDS) and the last refusal shows on
    /dashboard/jobs. Logs ids only, never an address."""
    from moderation.notifications import messages, outbox

    with app_context() as app:
        settings = _notification_settings(app)
        log.info("[%s] mail %s", _job_id(), mail_id)
        render = messages.renderer(app.jinja_env, db.session, settings)
        return outbox.deliver(db.session, int(mail_id), settings, render)


def send_digests() -> int:
    """Record the digests whose time has come (once per recipient and period, however many
    cron processes run) and enqueue them."""
    from moderation.notifications import digests, outbox

    with app_context() as app:
        settings = _notification_settings(app)
        result = digests.send_round(db.session, settings)
        enqueued = outbox.dispatch(db.session, get_redis(), settings, result.recorded)
        log.info(
            "[%s] digests: %d recorded, %d empty, %d enqueued",
            _job_id(), len(result.recorded), result.skipped, enqueued,
        )  # fmt: skip
        return len(result.recorded)


def send_alerts() -> int:
    """Record urgent alerts and report status notices not yet recorded, and put every pending
    message on the `mail` queue (those just recorded and any whose job was lost)."""
    from moderation.notifications import alerts, outbox, status_notices

    with app_context() as app:
        settings = _notification_settings(app)
        recorded = alerts.alert_round(db.session, settings)
        notices = status_notices.notice_round(db.session, settings)
        enqueued = outbox.dispatch(db.session, get_redis(), settings)
        log.info(
            "[%s] alerts: %d recorded, %d status notices, %d enqueued",
            _job_id(), len(recorded), len(notices), enqueued,
        )  # fmt: skip
        return len(recorded)
