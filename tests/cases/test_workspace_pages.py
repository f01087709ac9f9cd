"""The liaison workspace in the browser's terms (HTTP through the app): a senior opens a case
from escalated reports on the page, a liaison lands on their cases after sign-in, cannot open
another liaison's case (404), works the case (status, notes, police requests), and downloads an
evidence package that verifies. Reports, escalations and clusters come from intake, triage and
the decision service."""

from __future__ import annotations

import io
import re

from sqlalchemy import select

from models import Case, PoliceRequest
from moderation.cases.bag import verify_zip
from moderation.core.db import db
from tests.cases.case_factories import escalate, fast_triage, triaged_cluster
from tests.factories import csrf_token, login, make_user


def _signed_in(app, email: str):
    browser = app.test_client()
    answer = login(browser, email)
    assert answer.status_code == 302
    return browser


def _open_case_on_the_page(app, client, tmp_path) -> tuple[int, list[int]]:
    fast_triage(app, tmp_path)
    senior_id = make_user(app, "lead@example.org", "senior")
    make_user(app, "ana@example.org", "liaison")
    make_user(app, "ben@example.org", "liaison")
    ids = triaged_cluster(app, client)
    escalate(app, ids[0], senior_id, "threats with an address", cluster=True)
    senior = _signed_in(app, "lead@example.org")
    page = senior.get("/cases/escalated?lang=en").get_data(as_text=True)
    assert "threats with an address" in page and all(f"#{i}" in page for i in ids)
    answer = senior.post(
        "/cases/",
        data={
            "csrf_token": csrf_token(page),
            "report_id": [str(ids[0])],
            "with_clusters": "1",
            "type": "ncii",
            "urgency": "urgent",
            "liaison": "ana@example.org",
            "reason": "the victim's school is named",
        },
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    with app.app_context():
        case_id = db.session.execute(select(Case.id)).scalar_one()
    assert answer.headers["Location"].endswith(f"/cases/{case_id}")
    return case_id, ids


def test_a_senior_opens_a_case_and_its_liaison_works_it(app, client, tmp_path):
    case_id, ids = _open_case_on_the_page(app, client, tmp_path)
    ana = app.test_client()
    first = login(ana, "ana@example.org")
    # Signed in, the start page sends a liaison to the cases, not to a 403.
    landing = ana.get(first.headers["Location"], follow_redirects=True)
    assert landing.request.path == "/cases/" and landing.status_code == 200
    listing = landing.get_data(as_text=True)
    with app.app_context():
        number = db.session.get(Case, case_id).number
    assert number in listing

    page = ana.get(f"/cases/{case_id}?lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "the victim&#39;s school is named" in html and "threats with an address" in html
    # Every copy of the cluster is in the case, with blurred previews only.
    for report_id in ids:
        assert f'id="report-{report_id}"' in html
    assert len(re.findall(r"/review/media/\d+/preview\.jpg", html)) == len(ids)
    assert "/revealed" not in html
    # The spread timeline marks the earliest copy (the factory dates them one day apart).
    first_row = html.split('class="first-seen"')[1].split("</tr>")[0]
    assert f"#{ids[0]}" in first_row and "first seen" in first_row

    token = csrf_token(html)
    assert (
        ana.post(
            f"/cases/{case_id}/notes", data={"csrf_token": token, "body": "called the school"}
        ).status_code
        == 302
    )
    ana.post(
        f"/cases/{case_id}/police",
        data={
            "csrf_token": token,
            "agency": "Seoul Metropolitan Police",
            "their_reference": "SMP-2026-77",
            "received_at": "2026-12-01T09:00",
            "due_at": "2026-12-04T09:00",
        },
    )
    ana.post(f"/cases/{case_id}/status", data={"csrf_token": token, "status": "referred"})
    with app.app_context():
        request_id = db.session.execute(select(PoliceRequest.id)).scalar_one()
    ana.post(f"/cases/{case_id}/police/{request_id}/answer", data={"csrf_token": token})
    korean = ana.get(f"/cases/{case_id}?lang=ko").get_data(as_text=True)
    assert "경찰에 이관됨" in korean and "called the school" in korean
    assert "SMP-2026-77" in korean and "시간 만에 응답" in korean
    assert "유포 경로" in korean and "최초 확인" in korean
    # Timeline: the case's own events, in order.
    assert korean.index("case.open") < korean.index("case.note") < korean.index("case.status")

    package = ana.post(f"/cases/{case_id}/export", data={"csrf_token": token})
    assert package.status_code == 200 and package.mimetype == "application/zip"
    assert package.headers["Cache-Control"] == "no-store"
    verdict = verify_zip(io.BytesIO(package.data))
    assert verdict.ok, verdict


def test_another_liaison_gets_404_and_a_moderator_403(app, client, tmp_path):
    case_id, _ = _open_case_on_the_page(app, client, tmp_path)
    ben = _signed_in(app, "ben@example.org")
    hidden = ben.get(f"/cases/{case_id}")
    missing = ben.get("/cases/987654")
    assert hidden.status_code == missing.status_code == 404
    assert case_id not in [
        int(i) for i in re.findall(r"/cases/(\d+)", ben.get("/cases/").get_data(as_text=True))
    ]
    assert ben.get("/cases/escalated").status_code == 200  # liaisons may open cases too
    make_user(app, "mod@example.org")
    moderator = _signed_in(app, "mod@example.org")
    assert moderator.get("/cases/").status_code == 403


def test_refused_actions_say_why_on_the_page(app, client, tmp_path):
    case_id, _ = _open_case_on_the_page(app, client, tmp_path)
    ana = _signed_in(app, "ana@example.org")
    token = csrf_token(ana.get(f"/cases/{case_id}").get_data(as_text=True))
    closing = ana.post(
        f"/cases/{case_id}/status",
        data={"csrf_token": token, "status": "closed"},
        follow_redirects=True,
    )
    assert "closing a case needs a reason" in closing.get_data(as_text=True)
    bad_time = ana.post(
        f"/cases/{case_id}/police",
        data={"csrf_token": token, "agency": "KNPA", "received_at": "yesterday"},
        follow_redirects=True,
    )
    assert "2026-12-03T09:30" in bad_time.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(PoliceRequest)).first() is None


def test_the_dashboard_shows_police_figures_equal_to_the_requests(app, client):
    from datetime import timedelta

    from models import utcnow
    from moderation.cases import police
    from moderation.cases.actor import Actor

    now = utcnow()
    with app.app_context():
        hours = [10, 20, 45]
        for taken in hours:
            received = now - timedelta(days=3)
            logged = police.log_request(
                db.session, agency="KNPA", received_at=received, actor=Actor.cli()
            )
            police.answer(
                db.session,
                logged.id,
                actor=Actor.cli(),
                answered_at=received + timedelta(hours=taken),
            )
        police.log_request(
            db.session,
            agency="KNPA",
            received_at=now - timedelta(days=2),
            due_at=now - timedelta(hours=1),
            actor=Actor.cli(),
        )
        police.log_request(db.session, agency="KNPA", received_at=now, actor=Actor.cli())
    make_user(app, "lead@example.org", "senior")
    senior = _signed_in(app, "lead@example.org")
    html = senior.get("/dashboard/?lang=en").get_data(as_text=True)

    def figure(name: str) -> str:
        return re.search(rf"data-figure-police-{name}>([^<]*)<", html).group(1)

    assert (figure("open"), figure("overdue")) == ("2", "1")
    assert figure("median") == "20.0 h"  # the median of 10, 20 and 45 hours


def test_a_liaison_opens_a_case_and_takes_it(app, client, tmp_path):
    fast_triage(app, tmp_path)
    senior_id = make_user(app, "lead@example.org", "senior")
    make_user(app, "ana@example.org", "liaison")
    ids = triaged_cluster(app, client, copies=2)
    escalate(app, ids[0], senior_id, "a minor is named")
    ana = _signed_in(app, "ana@example.org")
    page = ana.get("/cases/escalated").get_data(as_text=True)
    answer = ana.post(
        "/cases/",
        data={"csrf_token": csrf_token(page), "report_id": [str(ids[0])], "type": "other"},
    )
    assert answer.status_code == 302
    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        from models import User

        assert db.session.get(User, case.assigned_liaison_id).email == "ana@example.org"
