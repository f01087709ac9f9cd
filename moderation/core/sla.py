"""The review deadline of a report: one rule for triage (which ranks by it) and the review
queue, the item page and the dashboard (which show it).

`SLA_HOURS` maps categories to hours, with a "default" entry for the rest; a table without
that entry still gives every report a deadline, DEFAULT_SLA_HOURS after it was received.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

DEFAULT_SLA_HOURS = 72.0


def sla_hours(table: Mapping[str, Any] | None, category: str) -> float:
    """Hours allowed for `category` under the SLA table (config `SLA_HOURS`)."""
    table = table or {}
    return float(table.get(category, table.get("default", DEFAULT_SLA_HOURS)))


def sla_deadline(
    table: Mapping[str, Any] | None, category: str, received_at: datetime | None
) -> datetime | None:
    """When a report of `category` received at `received_at` is due (None without a time)."""
    if received_at is None:
        return None
    return received_at + timedelta(hours=sla_hours(table, category))
