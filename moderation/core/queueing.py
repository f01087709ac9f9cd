"""The job queues, declared once, and the only way the app puts work on them.

Jobs live in `workers.jobs`; the app refers to them by dotted name so that `moderation` never
imports `workers`. Every job states its queue, timeout, TTLs and retries here, and arguments are
ids and small JSON values (RQ's JSON serializer), never media or personal data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

log = logging.getLogger(__name__)

# Priority order: a worker listening on all of them drains earlier queues first. Triage has two
# queues: `triage_urgent` (reports from victims and trusted flaggers, and known copies of banked
# files; see triage/lane.py) ahead of `triage`, so under a flood of ordinary reports
# those still reach review in seconds. A worker asked for "triage" serves both, urgent first.
# `mail` (moderation/notifications) comes before maintenance: an urgent alert must not wait
# behind a retention run.
QUEUE_NAMES = ("triage_urgent", "triage", "decisions", "callbacks", "mail", "maintenance")
QUEUE_GROUPS = {"triage": ("triage_urgent", "triage")}


@dataclass(frozen=True)
class JobSpec:
    func: str
    queue: str
    timeout: int
    result_ttl: int = 3600
    failure_ttl: int = 7 * 24 * 3600
    # Retries are for transient failures (Redis or database blips); jobs raise on those only.
    retries: int = 3
    retry_intervals: tuple[int, ...] = (10, 60, 300)


TRIAGE_REPORT = JobSpec("workers.jobs.triage_report", "triage", timeout=300)
TRIAGE_REPORT_URGENT = replace(TRIAGE_REPORT, queue="triage_urgent")
# Re-score one report whose category changed upstream; on the triage queue, as it moves a
# report within the review queue.
RESCORE_REPORT = JobSpec("workers.jobs.rescore_report", "triage", timeout=120)
SWEEP_PENDING = JobSpec("workers.jobs.sweep_pending", "maintenance", timeout=120, retries=0)
SEAL_AUDIT_LOG = JobSpec("workers.jobs.seal_audit_log", "maintenance", timeout=120, retries=0)
# Make decisions final once their undo window has passed (see review/decisions.py).
FINALIZE_DECISIONS = JobSpec("workers.jobs.finalize_decisions", "decisions", timeout=120, retries=0)
# Decision callbacks: the periodic dispatcher puts one delivery job per due row on `callbacks`;
# retries are the delivery's own schedule (moderation/outcomes/callbacks.py), not RQ's.
DISPATCH_CALLBACKS = JobSpec("workers.jobs.dispatch_callbacks", "callbacks", timeout=60, retries=0)
DELIVER_CALLBACK = JobSpec("workers.jobs.deliver_callback", "callbacks", timeout=60, retries=0)
# Refresh the bank index and rebuild its base when the delta grew (see banks/index.py).
MAINTAIN_BANK_INDEX = JobSpec(
    "workers.jobs.maintain_bank_index", "maintenance", timeout=1800, retries=0
)
# Re-score open reports whose SLA points changed as they aged (see triage/aging.py).
RESCORE_AGING_REPORTS = JobSpec(
    "workers.jobs.rescore_aging_reports", "maintenance", timeout=600, retries=0
)
# Crypto-shred unheld originals past their retention period (see cases/retention.py).
SHRED_EXPIRED_MEDIA = JobSpec(
    "workers.jobs.shred_expired_media", "maintenance", timeout=1800, retries=0
)

# Email (moderation/notifications/outbox.py): one job per message; its retries are
# MAIL_RETRY_SECONDS (enqueue_mail sets them), and the last refusal fails the job, so it shows on
# /dashboard/jobs. The periodic rounds record digests and alerts and re-enqueue lost messages.
SEND_MAIL = JobSpec("workers.jobs.send_mail", "mail", timeout=120)
SEND_DIGESTS = JobSpec("workers.jobs.send_digests", "mail", timeout=600, retries=0)
SEND_ALERTS = JobSpec("workers.jobs.send_alerts", "mail", timeout=300, retries=0)


def worker_queue_names(requested: Iterable[str]) -> tuple[str, ...]:
    """The RQ queues a worker asked for `requested` listens on, in the order asked (a group
    such as "triage" expands in place, urgent first); all of them, in priority order, if none.
    Raises ValueError naming any unknown queue."""
    names: list[str] = []
    for name in requested:
        if name not in QUEUE_NAMES and name not in QUEUE_GROUPS:
            raise ValueError(name)
        names += [n for n in QUEUE_GROUPS.get(name, (name,)) if n not in names]
    return tuple(names) or QUEUE_NAMES


def queue(name: str, connection: Redis) -> Queue:
    return Queue(name, connection=connection, serializer=JSONSerializer)


def enqueue(
    spec: JobSpec,
    connection: Redis,
    *args: int | str,
    job_id: str | None = None,
    unique: bool = False,
) -> Job:
    """Put one job on its queue. Raises redis errors; the caller decides whether that matters.
    With `unique`, raises rq's DuplicateJobError if a job with `job_id` exists (one atomic step)."""
    retry = Retry(max=spec.retries, interval=list(spec.retry_intervals)) if spec.retries else None
    return queue(spec.queue, connection).enqueue_call(
        spec.func,
        args=args,
        timeout=spec.timeout,
        result_ttl=spec.result_ttl,
        failure_ttl=spec.failure_ttl,
        retry=retry,
        job_id=job_id,
        unique=unique,
    )


def triage_job_id(report_id: int) -> str:
    return f"triage-report-{report_id}"


# LPOS is linear in the queue's length: a longer queue is not searched for one job (under such
# a backlog, a lost job is found by a sweep once the backlog has drained below this).
SEARCHABLE_QUEUE_LENGTH = 10_000


def _lost(connection: Redis, job: Job, status: JobStatus, started_within: timedelta) -> bool:
    """True if `job`, whose object the caller knows is still unclaimed, can never run: it says
    `started` for longer than `started_within` (its worker died before the job's first step),
    or `queued` but is on no queue (its worker died between popping it and starting it; with
    several queues RQ pops without a safety list)."""
    if status == JobStatus.STARTED and job.started_at:
        started_at = job.started_at
        if started_at.tzinfo is None:  # RQ stores UTC
            started_at = started_at.replace(tzinfo=UTC)
        return started_at < datetime.now(UTC) - started_within
    if status == JobStatus.QUEUED:
        key = queue(job.origin, connection).key
        if (
            connection.llen(key) > SEARCHABLE_QUEUE_LENGTH
            or connection.lpos(key, job.id) is not None
        ):
            return False
        # Popped a moment ago by a live worker, which has marked it started since?
        return job.get_status(refresh=True) == JobStatus.QUEUED
    return False


def job_is_waiting(connection: Redis, job_id: str, unclaimed_for: timedelta | None = None) -> bool:
    """True if the job exists and is queued, scheduled or running (so re-enqueueing is moot).

    `unclaimed_for`: the caller knows the job's first step (a claim that takes a moment) has not
    been done although the job has existed that long; a job that can never run (see `_lost`)
    is then not waiting."""
    job = Job.fetch_many([job_id], connection=connection, serializer=JSONSerializer)[0]
    if job is None:
        return False
    status = job.get_status(refresh=False)
    if unclaimed_for is not None and _lost(connection, job, status, unclaimed_for):
        log.warning("job %s lost its worker before it started; replacing it", job_id)
        return False
    return status in (
        JobStatus.QUEUED,
        JobStatus.STARTED,
        JobStatus.SCHEDULED,
        JobStatus.DEFERRED,
    )


def _enqueue_once(
    spec: JobSpec,
    connection: Redis,
    job_id: str,
    report_id: int,
    replace: bool = False,
    unclaimed_for: timedelta | None = None,
) -> Job | None:
    """Enqueue `spec` for one object (a report, a delivery) under a derived job id, unless that
    job is already waiting (see `job_is_waiting` for `unclaimed_for`)."""
    try:
        # The common case (no such job) costs one atomic round trip.
        return enqueue(spec, connection, report_id, job_id=job_id, unique=True)
    except DuplicateJobError:
        if not replace and job_is_waiting(connection, job_id, unclaimed_for):
            return None
        # A finished or failed job of the same report: replace it (the sweeper's rescue path).
        return enqueue(spec, connection, report_id, job_id=job_id)


def enqueue_triage(
    connection: Redis,
    report_id: int,
    urgent: bool = False,
    replace: bool = False,
    unclaimed_after: timedelta | None = None,
) -> Job | None:
    """Enqueue triage of one report under its derived job id (on the urgent queue if `urgent`),
    unless it is already waiting on either; `replace`: even if its job says it is running (the
    sweeper knows, from the heartbeat, that its worker died). `unclaimed_after`: the caller
    knows the report is unclaimed (`received`) although it waited at least this long, so a job
    that says it started longer ago than this, or is queued on no queue, lost its worker before
    the claim and is replaced too."""
    spec = TRIAGE_REPORT_URGENT if urgent else TRIAGE_REPORT
    return _enqueue_once(
        spec, connection, triage_job_id(report_id), report_id, replace, unclaimed_after
    )


def enqueue_callback(
    connection: Redis, delivery_id: int, unclaimed_for: timedelta | None = None
) -> Job | None:
    """Enqueue one attempt at a callback delivery, unless one is already waiting;
    `unclaimed_for`: the delivery has had no lease for that long, so a job that says it started
    earlier lost its worker (see `job_is_waiting`) and is replaced."""
    return _enqueue_once(
        DELIVER_CALLBACK,
        connection,
        f"callback-{delivery_id}",
        delivery_id,
        unclaimed_for=unclaimed_for,
    )


def enqueue_rescore(connection: Redis, report_id: int) -> Job | None:
    """Enqueue re-scoring of one report, unless a re-score of it is already waiting."""
    return _enqueue_once(RESCORE_REPORT, connection, f"rescore-report-{report_id}", report_id)


def enqueue_mail(
    connection: Redis,
    mail_id: int,
    retry_seconds: tuple[int, ...] = SEND_MAIL.retry_intervals,
    unclaimed_for: timedelta | None = None,
) -> Job | None:
    """Enqueue sending one recorded message, unless its job is already waiting (or scheduled
    for a retry); `retry_seconds` are the waits between attempts (MAIL_RETRY_SECONDS);
    `unclaimed_for` as for `enqueue_callback` (the message's lease expired that long ago)."""
    spec = replace(SEND_MAIL, retries=len(retry_seconds), retry_intervals=tuple(retry_seconds))
    return _enqueue_once(spec, connection, f"mail-{mail_id}", mail_id, unclaimed_for=unclaimed_for)
