"""The transparency report: what a platform must publish about notices and actions, computed from
the rows themselves for a period (reports received in it, decisions made in it).

Fields, and which rules ask for them:
- notices received, by category and by source (reporter kind; trusted flaggers apart): DSA
  Art. 15(1)(b) (notices under Art. 16, by type of illegal content, and those from trusted
  flaggers under Art. 22) and Korea's yearly report on illegally filmed material;
- actions taken, by policy, and whether decided without viewing (from a hash match, i.e. by
  automated means with human confirmation): Art. 15(1)(b)-(c);
- time to action (received to first final decision): median and 90th percentile, in hours, and
  the share decided within the category's SLA: Art. 15(1)(b) "median time needed for taking the
  action";
- escalations to law enforcement and police requests answered (count, median time): the orders
  and requests of Art. 15(1)(a) (Art. 10 information orders);
- appeals (internal complaints) received, upheld and reversed, their median time, and all
  reversals: Art. 15(1)(d) and Art. 24(1)(a) figures on complaint handling.
Art. 24(1)(b) (suspensions of accounts) and out-of-court disputes are the platform's, not ours.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from statistics import median, quantiles
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import (
    Appeal,
    AppealState,
    Decision,
    DecisionState,
    PoliceRequest,
    Report,
    ReporterKind,
)
from moderation.core.sla import sla_deadline


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _hours(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p90": None}
    p90 = quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]
    return {"median": round(median(values), 2), "p90": round(p90, 2)}


def transparency(
    session: Session, start: date, end: date, sla_table: Mapping[str, Any]
) -> dict[str, Any]:
    """The figures for reports received and decisions made from `start` to `end` (both days
    included, UTC). Read-only."""
    begin, finish = _start(start), _start(end + timedelta(days=1))
    received = session.execute(
        select(Report.category, Report.reporter_kind, func.count())
        .where(Report.received_at >= begin, Report.received_at < finish)
        .group_by(Report.category, Report.reporter_kind)
    ).all()
    by_category: Counter[str] = Counter()
    by_source: Counter[str] = Counter()
    for category, reporter_kind, count in received:
        by_category[category] += count
        by_source[reporter_kind] += count

    decisions = session.execute(
        select(Decision, Report.category, Report.received_at)
        .join(Report, Report.id == Decision.report_id)
        .where(
            Decision.state == DecisionState.FINAL,
            Decision.created_at >= begin,
            Decision.created_at < finish,
        )
        .order_by(Decision.report_id, Decision.id)
    ).all()
    actions: Counter[str] = Counter()
    without_viewing = 0
    first_per_report: dict[int, tuple[Decision, str, datetime]] = {}
    for decision, category, received_at in decisions:
        actions[decision.action] += 1
        without_viewing += int(decision.without_viewing)
        first_per_report.setdefault(decision.report_id, (decision, category, received_at))
    durations, within = [], 0
    for decision, category, received_at in first_per_report.values():
        if decision.action == "needs_context":
            continue
        durations.append((decision.created_at - received_at).total_seconds() / 3600)
        deadline = sla_deadline(sla_table, category, received_at)
        within += int(deadline is not None and decision.created_at <= deadline)
    reversals = session.execute(
        select(func.count())
        .select_from(Decision)
        .where(Decision.reversed_at >= begin, Decision.reversed_at < finish)
    ).scalar_one()

    police = list(
        session.execute(
            select(PoliceRequest).where(
                PoliceRequest.received_at >= begin, PoliceRequest.received_at < finish
            )
        ).scalars()
    )
    answered = [r for r in police if r.answered_at is not None]
    appeals = list(
        session.execute(
            select(Appeal).where(Appeal.received_at >= begin, Appeal.received_at < finish)
        ).scalars()
    )
    decided_appeals = [a for a in appeals if a.decided_at is not None]
    return {
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "notices": {
            "total": sum(by_category.values()),
            "by_category": dict(sorted(by_category.items())),
            "by_source": dict(sorted(by_source.items())),
            "from_trusted_flaggers": by_source.get(ReporterKind.TRUSTED_FLAGGER.value, 0),
        },
        "actions": {
            "total": sum(actions.values()),
            "by_policy": dict(sorted(actions.items())),
            "removals": sum(n for code, n in actions.items() if code.startswith("remove.")),
            "decided_without_viewing": without_viewing,
        },
        "time_to_action_hours": _hours(durations),
        "within_sla": {
            "decided": len(durations),
            "within": within,
            "share": round(within / len(durations), 4) if durations else None,
        },
        "law_enforcement": {
            "escalations": actions.get("escalate", 0),
            "police_requests": len(police),
            "police_requests_answered": len(answered),
            "hours_to_answer": _hours(
                [(r.answered_at - r.received_at).total_seconds() / 3600 for r in answered]
            ),
        },
        "appeals": {
            "received": len(appeals),
            "upheld": sum(1 for a in appeals if a.state == AppealState.UPHELD),
            "reversed": sum(1 for a in appeals if a.state == AppealState.REVERSED),
            "open": sum(1 for a in appeals if a.state == AppealState.OPEN),
            "hours_to_decide": _hours(
                [(a.decided_at - a.received_at).total_seconds() / 3600 for a in decided_appeals]
            ),
        },
        "reversals": int(reversals),
    }


def as_csv(report: Mapping[str, Any]) -> str:
    """`section,key,value` rows, one per figure (nested sections joined with a dot)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "value"])

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            section, _, key = prefix.partition(".")
            writer.writerow([section, key, "" if value is None else value])

    walk("", report)
    return out.getvalue()
