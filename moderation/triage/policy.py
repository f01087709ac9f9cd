"""Priority policy: one explainable 0-100 score from what triage knows about a report.

Every point added comes with a reason (`code`, `points`, `detail`) that is stored on the report and
shown in the queue, so a moderator can see why an item is where it is. Weights can be overridden
in config (`PRIORITY_WEIGHTS`), by reason code. The function is pure: triage gathers the facts
(moderation/triage/signals.py), this module only weighs them.

Suspected minors: there is no honest offline age-estimation model, so nothing here guesses an
age from pixels. "minor.suspected" comes from the reporter's category (csam_suspected) and
"minor.text_hint" from words in the report text (중학생, 고딩, 초등, minor, underage, schoolgirl,
...). Both are hints for ordering the queue, never findings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models import Category, ReporterKind

# Reports from these reporters are triaged ahead of the rest (their own queue, drained first;
# see moderation/triage/lane.py): under a flood of ordinary reports, what a victim or a
# helpline sends still reaches review in seconds. The same reporters get the "reporter.*" points
# below.
URGENT_REPORTER_KINDS = (ReporterKind.VICTIM, ReporterKind.TRUSTED_FLAGGER)


def triage_is_urgent(reporter_kind: str | None) -> bool:
    return reporter_kind in URGENT_REPORTER_KINDS


DEFAULT_WEIGHTS: dict[str, int] = {
    # What the reporter says it is.
    "category.csam_suspected": 40,
    "category.ncii": 30,
    "category.synthetic_sexual": 25,
    "category.doxxing": 20,
    "category.incitement": 15,
    "category.sexual_harassment": 10,
    "category.other": 5,
    # Who reports it: victims and trusted flaggers first.
    "reporter.victim": 15,
    "reporter.trusted_flagger": 12,
    "reporter.user": 0,
    "reporter.automated": 0,
    # Hash banks: a match on a victim-submitted or moderator-confirmed bank is near certainty.
    "bank.csam": 60,
    "bank.victim_submitted": 55,
    "bank.confirmed": 50,
    "bank.imported": 35,
    "bank.other": 25,
    # The image classifier (NudeNet): a face and exposed intimate parts in one image is the
    # identifiable-person signal that NCII and deepfakes share.
    "nudity.face_with_exposed": 25,
    "nudity.exposed": 12,
    # Suspected minors (see the module docstring: category and text hints only).
    "minor.suspected": 35,
    "minor.text_hint": 20,
    # Text signals (moderation/text_signals).
    "text.doxxing": 25,
    "text.incitement": 20,
    "text.lexicon": 10,
    # Reach: points per tenfold audience above 100 members, capped.
    "reach.per_tenfold": 3,
    "reach.max": 10,
    # Re-shares: points per extra report of the same content (cluster size - 1), capped.
    "reshares.per_extra_report": 3,
    "reshares.max": 15,
    # Age against the category's SLA: up to `sla.elapsed` points as the deadline nears, and
    # `sla.overdue` once it has passed.
    "sla.elapsed": 8,
    "sla.overdue": 10,
    "media.failed": 2,
}

# Bank kinds from most to least certain; the best match counts, once.
BANK_KINDS = ("csam", "victim_submitted", "confirmed", "imported", "other")
TEXT_KINDS = ("doxxing", "incitement", "lexicon")
# A victim-submitted bank holds hashes people registered of their own photos (/protect).
BANK_DETAILS = {"victim_submitted": "matches a photo its subject registered"}
# Below this audience a post is effectively private.
_REACH_FLOOR = 100


@dataclass(frozen=True)
class Reason:
    code: str
    points: int
    # English; the UI translates from `code` and `params` (moderation/triage/reason_text.py)
    detail: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {"code": self.code, "points": self.points, "detail": self.detail}
        if self.params:
            document["params"] = dict(self.params)
        return document


@dataclass
class PriorityInput:
    """Facts about one report, gathered by triage. Only ids, codes and counts: nothing personal."""

    category: str
    reporter_kind: str
    bank_matches: list[str] = field(default_factory=list)  # bank kinds matched
    face_with_exposed: bool = False
    exposed_nudity: bool = False
    minor_text_hints: int = 0
    text_labels: dict[str, int] = field(default_factory=dict)  # kind -> hits
    channel_members: int | None = None
    cluster_reports: int = 1
    received_at: datetime | None = None
    sla_deadline: datetime | None = None
    failed_media: int = 0
    now: datetime | None = None


def merged_weights(overrides: Mapping[str, int] | None = None) -> dict[str, int]:
    """DEFAULT_WEIGHTS with the configured overrides applied (unknown codes are kept)."""
    return {**DEFAULT_WEIGHTS, **{str(k): int(v) for k, v in (overrides or {}).items()}}


def reshare_points(cluster_reports: int, overrides: Mapping[str, int] | None = None) -> int:
    """Points a report in a cluster of `cluster_reports` gets for re-shares."""
    weights = merged_weights(overrides)
    extra = max(0, cluster_reports - 1)
    return min(weights["reshares.per_extra_report"] * extra, weights["reshares.max"])


def compute_priority(
    facts: PriorityInput, overrides: Mapping[str, int] | None = None
) -> tuple[int, list[Reason]]:
    """The score (clamped to 0-100) and its reasons, largest first."""
    weights = merged_weights(overrides)
    reasons: list[Reason] = []

    def add(code: str, detail: str, points: int | None = None, **params: Any) -> None:
        value = weights.get(code, 0) if points is None else points
        if value:
            reasons.append(Reason(code, value, detail, params))

    add(f"category.{facts.category}", f"reported as {facts.category}")
    add(f"reporter.{facts.reporter_kind}", f"reported by a {facts.reporter_kind.replace('_', ' ')}")
    best_bank = next((kind for kind in BANK_KINDS if kind in facts.bank_matches), None)
    if best_bank is None and facts.bank_matches:
        best_bank = "other"
    if best_bank:
        add(f"bank.{best_bank}", BANK_DETAILS.get(best_bank, f"matches a {best_bank} hash bank"))
    if facts.face_with_exposed:
        add("nudity.face_with_exposed", "a face and exposed intimate parts in one image")
    elif facts.exposed_nudity:
        add("nudity.exposed", "exposed intimate parts detected")
    if facts.category == Category.CSAM_SUSPECTED:
        add("minor.suspected", "reported as suspected child abuse material (no age model)")
    elif facts.minor_text_hints:
        add("minor.text_hint", "the text suggests the person may be a minor (no age model)")
    for kind in TEXT_KINDS:
        hits = facts.text_labels.get(kind, 0)
        if hits:
            add(f"text.{kind}", f"{hits} {kind} signal(s) in the text", count=hits)
    members = facts.channel_members
    if members and members >= _REACH_FLOOR * 10:
        tenfolds = math.log10(members / _REACH_FLOOR)
        points = min(int(weights["reach.per_tenfold"] * tenfolds), weights["reach.max"])
        add("reach", f"posted where {members} people can see it", points, members=members)
    if facts.cluster_reports > 1:
        points = reshare_points(facts.cluster_reports, overrides)
        add(
            "reshares",
            f"{facts.cluster_reports} reports of the same content",
            points,
            count=facts.cluster_reports,
        )
    _sla_reasons(facts, weights, add)
    if facts.failed_media:
        add(
            "media.failed",
            f"{facts.failed_media} media could not be processed",
            count=facts.failed_media,
        )
    reasons.sort(key=lambda reason: -reason.points)
    score = max(0, min(100, sum(reason.points for reason in reasons)))
    return score, reasons


def _sla_reasons(facts: PriorityInput, weights: Mapping[str, int], add: Any) -> None:
    if not (facts.sla_deadline and facts.now and facts.received_at):
        return
    if facts.now > facts.sla_deadline:
        add("sla.overdue", "past its review deadline")
        return
    window = (facts.sla_deadline - facts.received_at).total_seconds()
    elapsed = (facts.now - facts.received_at).total_seconds()
    if window > 0 and elapsed > 0:
        points = int(weights["sla.elapsed"] * min(1.0, elapsed / window))
        percent = round(100 * elapsed / window)
        add("sla.elapsed", f"{percent}% of its review time used", points, percent=percent)
