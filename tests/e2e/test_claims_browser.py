"""Claims in a real browser: opening an item holds nothing, `h` starts reviewing (a claim),
and leaving the item gives the claim back through the page's beacon."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect
from sqlalchemy import select

from models import ReviewClaim
from moderation.core.db import db
from tests.e2e.conftest import SENIOR, _keys, _sign_in
from tests.factories import make_image, make_user
from tests.review.review_factories import make_report


def _holders(app) -> dict[int, int]:
    with app.app_context():
        rows = db.session.execute(select(ReviewClaim.report_id, ReviewClaim.user_id)).all()
        db.session.rollback()
    return {row.report_id: row.user_id for row in rows}


def _wait_for(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_hold_with_h_and_leaving_releases(app, page: Page):
    user_id = make_user(app, SENIOR, role="senior")
    first = make_report(app, priority=90, media=[make_image(1)])
    make_report(app, priority=40, media=[make_image(2)])
    _sign_in(app, page)

    page.goto(f"/review/{first}")
    expect(page.locator("[data-key-hold]")).to_have_text("Start reviewing (h)")
    assert _holders(app) == {}
    _keys(page, "h")
    expect(page.locator("[data-claim]")).to_contain_text("Claimed by you")
    assert _holders(app) == {first: user_id}

    _keys(page, "j")  # browse on: the page's beacon gives the claim back
    page.wait_for_url(lambda url: "/review/" in url and not url.endswith(f"/review/{first}"))
    assert _wait_for(lambda: first not in _holders(app))
    assert _holders(app) == {}  # browsing to the next item claimed nothing
