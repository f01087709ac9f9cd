"""The priority policy: explainable reasons, configurable weights, the worst first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from moderation.triage.policy import (
    DEFAULT_WEIGHTS,
    PriorityInput,
    compute_priority,
    reshare_points,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _score(**facts) -> tuple[int, list[str]]:
    score, reasons = compute_priority(
        PriorityInput(**{"category": "other", "reporter_kind": "user", **facts})
    )
    return score, [reason.code for reason in reasons]


def test_every_point_has_a_reason_and_reasons_are_largest_first():
    score, reasons = compute_priority(
        PriorityInput(
            category="ncii",
            reporter_kind="victim",
            bank_matches=["confirmed"],
            text_labels={"doxxing": 2},
            channel_members=2400,
        )
    )
    assert score == min(100, sum(reason.points for reason in reasons))
    assert [r.points for r in reasons] == sorted((r.points for r in reasons), reverse=True)
    assert reasons[0].code == "bank.confirmed"
    assert "2 doxxing signal(s) in the text" in [r.detail for r in reasons]


def test_victim_submitted_bank_outranks_confirmed_and_counts_once():
    victim, codes = _score(bank_matches=["confirmed", "victim_submitted", "imported"])
    confirmed, _ = _score(bank_matches=["confirmed"])
    assert codes == ["bank.victim_submitted", "category.other"]
    assert victim > confirmed > _score(bank_matches=["imported"])[0] > _score()[0]


def test_face_with_exposed_beats_exposed_alone_and_they_do_not_add_up():
    both, codes = _score(face_with_exposed=True, exposed_nudity=True)
    assert "nudity.exposed" not in codes
    assert both > _score(exposed_nudity=True)[0] > _score()[0]


def test_suspected_minor_from_category_or_text_hints_only():
    _, codes = _score(category="csam_suspected")
    assert "minor.suspected" in codes
    _, codes = _score(minor_text_hints=2)
    assert "minor.text_hint" in codes
    assert not {"minor.suspected", "minor.text_hint"} & set(_score()[1])


def test_reach_grows_with_the_audience_and_is_capped():
    points = [_score(channel_members=n)[0] for n in (50, 999, 1000, 100_000, 10**9)]
    assert points[0] == points[1] < points[2] < points[3] <= points[4]
    assert points[4] - points[0] == DEFAULT_WEIGHTS["reach.max"]


def test_reshares_add_per_extra_report_up_to_the_cap():
    assert reshare_points(1) == 0
    assert reshare_points(3) == 2 * DEFAULT_WEIGHTS["reshares.per_extra_report"]
    assert reshare_points(1000) == DEFAULT_WEIGHTS["reshares.max"]


def test_age_against_the_sla():
    received = NOW - timedelta(hours=12)
    half, codes = _score(received_at=received, sla_deadline=received + timedelta(hours=24), now=NOW)
    assert "sla.elapsed" in codes
    late, codes = _score(received_at=received, sla_deadline=received + timedelta(hours=1), now=NOW)
    assert "sla.overdue" in codes and late > half


def test_weights_are_overridden_by_config_and_the_score_is_clamped():
    facts = PriorityInput(category="doxxing", reporter_kind="user", text_labels={"doxxing": 1})
    assert compute_priority(facts, {"text.doxxing": 0})[0] == DEFAULT_WEIGHTS["category.doxxing"]
    everything = PriorityInput(
        category="csam_suspected",
        reporter_kind="victim",
        bank_matches=["victim_submitted"],
        face_with_exposed=True,
        text_labels={"doxxing": 1, "incitement": 1},
        cluster_reports=50,
    )
    assert compute_priority(everything)[0] == 100
