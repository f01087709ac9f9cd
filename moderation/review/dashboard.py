"""Figures for the dashboard (queue depth, oldest item, decisions per hour, SLA compliance, per
category) and the job queue's health from RQ's registries, with failures reduced to the exception
type and job id: a traceback may quote media or personal data, so none of it is shown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis import Redis
from rq import Worker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from models import OPEN_STATUSES, Decision, DecisionState, Report, utcnow
from models.base import UTCDateTime
from moderation.core import sla
from moderation.core.queueing import QUEUE_NAMES, queue

HOURS = 24
SLA_WINDOW_DAYS = 7
FAILED_SHOWN = 50


UNSETTLED_ACTIONS = ("escalate", "needs_context")


def queue_figures(
    session: Session, sla_hours: Mapping[str, Any], visible: ColumnElement[bool]
) -> dict[str, Any]:
    """JSON-ready figures for the charts. Per category: depth, oldest age (hours), SLA met and
    missed among reports finally decided in the last week; decisions per hour for a day."""
    now = utcnow()
    depth_rows = session.execute(
        select(Report.category, func.count(), func.min(Report.received_at))
        .where(Report.status.in_(OPEN_STATUSES), visible)
        .group_by(Report.category)
        .order_by(Report.category)
    ).all()
    categories: dict[str, dict[str, Any]] = {}
    for category, count, oldest in depth_rows:
        oldest_at = _aware(oldest)
        categories[category] = {
            "depth": count,
            "oldest_hours": round((now - oldest_at).total_seconds() / 3600, 1) if oldest_at else 0,
            "sla_met": 0,
            "sla_missed": 0,
        }
    since = now - timedelta(days=SLA_WINDOW_DAYS)
    decided = session.execute(
        select(Report.category, Report.received_at, func.min(Decision.created_at))
        .join(Decision, Decision.report_id == Report.id)
        .where(
            Decision.state == DecisionState.FINAL.value,
            Decision.created_at >= since,
            # Only outcomes settle a report: an escalation or a call for more context starts
            # other work (a case, another look) and is not "SLA met".
            Decision.action.not_in(UNSETTLED_ACTIONS),
            visible,
        )
        .group_by(Report.id, Report.category, Report.received_at)
    ).all()
    for category, received_at, decided_at in decided:
        entry = categories.setdefault(
            category, {"depth": 0, "oldest_hours": 0, "sla_met": 0, "sla_missed": 0}
        )
        allowed = sla.sla_hours(sla_hours, category)
        deadline = _aware(received_at) + timedelta(hours=allowed)
        entry["sla_met" if _aware(decided_at) <= deadline else "sla_missed"] += 1
    hours = [
        now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=h)
        for h in range(HOURS - 1, -1, -1)
    ]
    per_hour = dict.fromkeys(hours, 0)
    for created_at in session.execute(
        select(Decision.created_at).where(Decision.created_at >= hours[0])
    ).scalars():
        bucket = _aware(created_at).replace(minute=0, second=0, microsecond=0)
        if bucket in per_hour:
            per_hour[bucket] += 1
    total_met = sum(entry["sla_met"] for entry in categories.values())
    total_decided = total_met + sum(entry["sla_missed"] for entry in categories.values())
    return {
        "categories": categories,
        "depth_total": sum(entry["depth"] for entry in categories.values()),
        "oldest_hours": max((entry["oldest_hours"] for entry in categories.values()), default=0),
        "sla_compliance": round(100 * total_met / total_decided, 1) if total_decided else None,
        "decisions_per_hour": {
            "labels": [hour.strftime("%H:00") for hour in hours],
            "counts": list(per_hour.values()),
        },
    }


def _aware(value: datetime | str | None) -> datetime:
    # Aggregates may come back as text or naive datetimes on SQLite: normalise to aware UTC.
    if value is None:
        return utcnow()
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    result = UTCDateTime().process_result_value(value, None)
    assert result is not None
    return result


@dataclass(frozen=True)
class FailedJob:
    job_id: str
    queue: str
    exception_type: str


@dataclass(frozen=True)
class QueueHealth:
    name: str
    queued: int
    running: int
    scheduled: int
    failed: int


@dataclass(frozen=True)
class JobHealth:
    queues: list[QueueHealth]
    failed: list[FailedJob]
    workers: list[dict[str, Any]]


def _exception_type(job: Job) -> str:
    """The exception's class name from the latest result, nothing of its message."""
    result = job.latest_result()
    text = (result.exc_string if result is not None else None) or job.exc_info or ""
    last = next((line for line in reversed(text.strip().splitlines()) if line.strip()), "")
    name = last.split(":", 1)[0].strip()
    return (
        name.rsplit(".", 1)[-1][:80]
        if name.replace(".", "").replace("_", "").isalnum()
        else "unknown"
    )


def job_health(connection: Redis) -> JobHealth:
    """Counts per queue, the latest failed jobs (id, queue, exception type) and live workers."""
    queues, failed = [], []
    for name in QUEUE_NAMES:
        rq_queue = queue(name, connection)
        failed_registry = FailedJobRegistry(queue=rq_queue)
        queues.append(
            QueueHealth(
                name=name,
                queued=rq_queue.count,
                running=StartedJobRegistry(queue=rq_queue).count,
                scheduled=ScheduledJobRegistry(queue=rq_queue).count,
                failed=failed_registry.count,
            )
        )
        ids = failed_registry.get_job_ids(0, FAILED_SHOWN - 1, desc=True)
        for job in Job.fetch_many(ids, connection=connection, serializer=JSONSerializer):
            if job is not None:
                failed.append(FailedJob(job.id, name, _exception_type(job)))
    workers = [
        {
            "name": worker.name,
            "state": str(worker.get_state()),
            "queues": ", ".join(worker.queue_names()),
            "last_heartbeat": worker.last_heartbeat,
        }
        for worker in Worker.all(connection=connection, serializer=JSONSerializer)
    ]
    return JobHealth(queues, failed[:FAILED_SHOWN], workers)
