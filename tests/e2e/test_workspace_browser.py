"""In Chromium: an invitation link whose code rides in the fragment (never sent, never logged)
is opened by the page's script; and the liaison workspace renders, in Korean and English, with
screenshots written for people to look at (tests/e2e/screenshots/ is not kept in git)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from moderation.accounts import invitations
from moderation.core.db import db
from moderation.settings import settings_for
from moderation.views.auth import invitation_url
from tests.e2e.conftest import _no_csp_violation
from tests.factories import make_user

SHOTS = Path(__file__).parent / "screenshots"


def test_the_invitation_code_never_reaches_the_server_in_a_url(app, server, page: Page):
    admin = make_user(app, "admin@example.org", "admin")
    with app.app_context():
        issued = invitations.invite(
            db.session, settings_for(app).accounts, admin, "new@example.org", "moderator"
        )
        with app.test_request_context():
            link = invitation_url(issued.token)
    assert "#inv_" in link
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(link)
    expect(page.get_by_text("new@example.org")).to_be_visible()
    assert "#" not in page.url  # dropped from the address bar and the history
    token = issued.token
    assert not [url for url in requested if token in url]
    _no_csp_violation(page)


def _screens(page: Page, path: str, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    for lang in ("en", "ko"):
        page.goto(f"{path}{'&' if '?' in path else '?'}lang={lang}")
        page.screenshot(path=str(SHOTS / f"{name}-{lang}.png"), full_page=True)
        _no_csp_violation(page)


def _sign_in_as(app, page: Page, email: str) -> None:
    from tests.factories import PASSWORD, totp_code_for

    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/login/verify**")
    page.fill("#code", totp_code_for(app, email))
    page.keyboard.press("Enter")


def test_a_liaison_lands_on_cases_and_the_case_page_renders(app, client, server, page, tmp_path):
    from sqlalchemy import select

    from models import Case
    from moderation.cases import opening
    from moderation.cases.actor import Actor
    from moderation.cases.settings import CaseSettings
    from tests.cases.case_factories import escalate, fast_triage, triaged_cluster

    fast_triage(app, tmp_path)
    senior = make_user(app, "lead@example.org", "senior")
    make_user(app, "ana@example.org", "liaison")
    ids = triaged_cluster(app, client)
    escalate(app, ids[0], senior, "threats with an address", cluster=True)
    with app.app_context():
        opening.open_case(
            db.session, ids, "ncii", actor=Actor.cli(), settings=CaseSettings(referral_hours=24),
            liaison_email="ana@example.org", urgency="urgent", reason="school named",
        )  # fmt: skip
        case_id = db.session.execute(select(Case.id)).scalar_one()
    _sign_in_as(app, page, "ana@example.org")
    page.wait_for_url("**/cases/")
    expect(page.locator("table.cases")).to_be_visible()
    _screens(page, "/cases/", "cases")
    _screens(page, f"/cases/{case_id}", "case")
    page.goto(f"/cases/{case_id}?lang=ko")
    expect(page.locator("tr.first-seen")).to_have_count(1)
    # Previews load, blurred, from the review routes (the reveal stays on the item page).
    images = page.locator("img.thumb")
    expect(images).to_have_count(len(ids))
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.thumb')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    assert re.search(r"C-\d{4}-\d{4}", page.content())


def test_staff_pages_fit_a_phone(app, client, server, page, tmp_path):
    """Newcomer issue item 13: staff pages were 905 px wide on a 390 px phone."""
    from tests.cases.case_factories import fast_triage, triaged_cluster

    fast_triage(app, tmp_path)
    make_user(app, "lead@example.org", "senior")
    triaged_cluster(app, client)
    page.set_viewport_size({"width": 390, "height": 800})
    _sign_in_as(app, page, "lead@example.org")
    page.wait_for_url("**/")
    SHOTS.mkdir(exist_ok=True)
    for path, name in (("/", "queue"), ("/cases/", "cases"), ("/review/history/", "history"),
                       ("/dashboard/", "dashboard")):  # fmt: skip
        for lang in ("ko", "en"):
            page.goto(f"{path}?lang={lang}")
            width = page.evaluate("document.documentElement.scrollWidth")
            page.screenshot(path=str(SHOTS / f"phone-{name}-{lang}.png"), full_page=True)
            assert width <= 400, (path, lang, width)
