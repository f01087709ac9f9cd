"""Data for the notification tests, made through the real services: reports through the signed
intake API and the triage worker (with a victim's name, a phone number and handles in their
texts, which no email may carry), escalated by a moderator's decision, cases opened and police
requests logged by the case services, preferences saved by the preferences service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from models import utcnow
from moderation.cases import opening, police
from moderation.cases.actor import Actor
from moderation.core.db import db
from moderation.notifications import preferences
from moderation.settings import settings_for
from tests.cases.case_factories import escalate
from tests.factories import (
    make_image,
    make_platform,
    make_user,
    post_report,
    report_body,
    run_worker_burst,
)

# What reporters wrote: none of it may appear in any email.
SENSITIVE = (
    "Kim Jiyoung",
    "김지영",
    "010-1234-5678",
    "perp_handle_77",
    "acct-secret-9",
    "room-secret-1",
    "social.example",
    "posted without consent by her ex",
)


def sensitive_report(app, client, seed: int, platform=None, category: str = "ncii") -> int:
    """One triaged report whose texts name the victim, a phone number and the poster."""
    platform = platform or make_platform(app)
    body = report_body([make_image(seed)], category=category)
    body["comment"] = "Kim Jiyoung (김지영), call 010-1234-5678: posted without consent by her ex"
    body["content"]["url"] = f"https://social.example/p/{seed}"
    body["content"]["text"] = "this is Kim Jiyoung, 010-1234-5678"
    body["content"]["posted_by"] = {"id": "acct-secret-9", "handle": "perp_handle_77"}
    body["content"]["context"] = {"chat_id": "room-secret-1", "member_count": 900}
    response = post_report(client, platform, body)
    assert response.status_code == 202, response.get_data(as_text=True)
    run_worker_burst(app)
    return response.get_json()["id"]


def set_preferences(app, user_id: int, **values) -> None:
    base = {"language": "en", "time_zone": "UTC", "digest_schedule": "daily", "urgent_alerts": True}
    base.update(values)
    with app.app_context():
        preferences.save(db.session, user_id, settings_for(app).notifications, **base)


@dataclass
class World:
    moderator_id: int
    liaison_ko_id: int
    liaison_en_id: int
    senior_id: int
    report_ids: list[int]
    case_id: int
    case_number: str
    request_id: int
    platform: object = None


def open_case(
    app,
    report_ids: list[int],
    case_type: str = "ncii",
    liaison: str | None = None,
    urgency: str = "routine",
) -> tuple[int, str]:
    with app.app_context():
        case = opening.open_case(
            db.session,
            report_ids,
            case_type,
            actor=Actor.cli(),
            settings=settings_for(app).cases,
            liaison_email=liaison,
            urgency=urgency,
            reason="Kim Jiyoung asked us to act",
        )
        return case.id, case.number


def log_police_request(app, case_id: int | None, due_in: timedelta) -> int:
    with app.app_context():
        now = utcnow()
        request = police.log_request(
            db.session,
            agency="Seoul Metropolitan Police Agency",
            officer="Officer Park Minsu",
            their_reference="SMPA-2026-777",
            received_at=now - timedelta(hours=1),
            due_at=now + due_in,
            case_id=case_id,
            actor=Actor.cli(),
        )
        return request.id


def build_world(app, client) -> World:
    moderator = make_user(app, "mod@example.org", "moderator")
    liaison_ko = make_user(app, "liaison.ko@example.org", "liaison")
    liaison_en = make_user(app, "liaison.en@example.org", "liaison")
    senior = make_user(app, "senior@example.org", "senior")
    set_preferences(app, liaison_ko, language="ko", time_zone="Asia/Seoul")
    set_preferences(app, senior, queue_digest=True)
    platform = make_platform(app)
    reports = [sensitive_report(app, client, seed, platform) for seed in (301, 302)]
    for report_id in reports:
        escalate(app, report_id, moderator, "Kim Jiyoung is in danger (010-1234-5678)")
    case_id, number = open_case(app, reports, liaison="liaison.ko@example.org")
    request_id = log_police_request(app, case_id, timedelta(hours=12))
    return World(
        moderator, liaison_ko, liaison_en, senior, reports, case_id, number, request_id, platform
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)
