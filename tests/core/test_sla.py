"""One SLA rule: triage ranks by the same deadline the queue, the item page and the dashboard
show, also when the operator's table has no "default" entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models import Report
from moderation.core.sla import DEFAULT_SLA_HOURS, sla_deadline, sla_hours
from moderation.review.queue import sla_deadline as queue_deadline
from moderation.triage.signals import priority_facts

RECEIVED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NOW = RECEIVED + timedelta(hours=1)


def _report(category: str) -> Report:
    return Report(category=category, reporter_kind="user", received_at=RECEIVED, media=[])


def test_triage_and_the_queue_agree_without_a_default_entry():
    table = {"ncii": 12}
    for category, hours in (("ncii", 12), ("doxxing", DEFAULT_SLA_HOURS)):
        report = _report(category)
        expected = RECEIVED + timedelta(hours=hours)
        assert queue_deadline(table, report) == expected
        assert priority_facts(report, [], 0, table, NOW).sla_deadline == expected


def test_the_default_entry_covers_unlisted_categories():
    table = {"ncii": 12, "default": 48}
    assert sla_hours(table, "other") == 48
    assert sla_deadline(table, "other", RECEIVED) == RECEIVED + timedelta(hours=48)
    assert sla_deadline(None, "ncii", RECEIVED) == RECEIVED + timedelta(hours=DEFAULT_SLA_HOURS)
    assert sla_deadline(table, "ncii", None) is None
