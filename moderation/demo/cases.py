"""Demo data for what happens after a decision: one cluster of demo reports escalated by the
demo admin and opened as a case for a demo liaison, with a police request on the clock, so a
fresh `make demo` shows the liaison workspace, the spread timeline and an evidence package."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from models import Case, Report, User, utcnow
from moderation.accounts.users import create_user
from moderation.cases import opening, police
from moderation.cases.actor import Actor
from moderation.core.db import db
from moderation.media.store import media_store_for
from moderation.review import decisions, finalize
from moderation.settings import settings_for
from moderation.triage import pipeline as triage

DEMO_LIAISON = "liaison@example.org"


def seed_case(app: Flask, report_ids: list[int], admin_email: str) -> dict[str, Any]:
    """Triage `report_ids` now (they are copies of one picture), escalate them as one cluster
    and open a case. Returns the liaison's login and the case number; {} if already done."""
    session = db.session
    if session.execute(select(Case.id).limit(1)).first():
        return {}
    settings = settings_for(app)
    store = media_store_for(app.config)
    for report_id in report_ids:
        triage.triage_report(session, store, report_id, settings.triage)
    admin = session.execute(select(User).where(User.email == admin_email)).scalar_one()
    password = None
    if session.execute(select(User.id).where(User.email == DEMO_LIAISON)).first() is None:
        password = secrets.token_urlsafe(12)
        create_user(session, settings.accounts, DEMO_LIAISON, "liaison", password)
    first = session.get(Report, report_ids[0])
    choice = decisions.DecisionInput(
        "escalate", reason="(demo) her school and phone number are posted with the photo"
    )
    if first.cluster_id is not None:
        decisions.decide_cluster(
            session, first.cluster_id, admin.id, choice, 0, 5, lambda report: True
        )
    else:
        decisions.decide(session, first, admin.id, choice, 0, 5)
    finalize.finalize_due(session)
    case = opening.open_case(
        session,
        report_ids,
        "ncii",
        actor=Actor.of(admin, settings.accounts.csam_roles),
        settings=settings.cases,
        liaison_email=DEMO_LIAISON,
        urgency="urgent",
        reason="(demo) a victim's details are spreading in a group chat",
        with_clusters=True,
    )
    now = utcnow()
    police.log_request(
        session,
        agency="(demo) Seoul Metropolitan Police Agency, cyber unit",
        their_reference="DEMO-2026-001",
        legal_basis="(demo) request for subscriber information",
        received_at=now - timedelta(hours=3),
        due_at=now + timedelta(hours=45),
        case_id=case.id,
        actor=Actor.of(admin, settings.accounts.csam_roles),
    )
    return {
        "case": case.number,
        "liaison_login": {
            "email": DEMO_LIAISON,
            "password": password or "(unchanged: created by an earlier run)",
        },
    }
