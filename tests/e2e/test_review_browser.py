"""The review UI in Debian's Chromium, driven by Playwright, against a real server on 127.0.0.1:
sign in with TOTP, work the queue with the keyboard only, reveal (audited), decide a cluster,
undo, finalise through a real worker, read the dashboard charts, switch to Korean, and never
trip the Content-Security-Policy."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from models import Decision, Report, ReportStatus, utcnow
from moderation.core.db import db
from moderation.core.queueing import FINALIZE_DECISIONS, enqueue
from moderation.core.redis_conn import get_redis
from tests.e2e.conftest import SENIOR, _audit, _keys, _no_csp_violation, _sign_in
from tests.factories import make_image, make_user, run_worker_burst
from tests.review.review_factories import make_report


def test_keyboard_review_flow(app, page: Page):
    make_user(app, SENIOR, role="senior")
    first = make_report(app, priority=90, media=[make_image(1)], cluster_id=5, text="look at her")
    second = make_report(app, priority=40, media=[make_image(1)], cluster_id=5)
    text_item = make_report(app, priority=60, text="주소 공개 글", chat_id="room-9")

    _sign_in(app, page)
    rows = page.locator("tr[data-href]")
    expect(rows).to_have_count(3)
    _keys(page, "j", "j", "k")
    expect(rows.nth(0)).to_have_class("report selected")
    _keys(page, "?")
    expect(page.locator("dialog[data-keys-dialog]")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/review/{first}")
    preview = page.locator("img.preview")
    expect(preview).to_be_visible()
    assert preview.evaluate("img => img.naturalWidth") > 0

    # Reveal with the keyboard: a CSRF-protected POST, recorded in the audit log.
    _keys(page, "r")
    expect(page.locator("img[data-revealed]")).to_be_visible()
    assert [e.object_type for e in _audit(app, "media.reveal")] == ["media"]

    # Decide the whole cluster and go on: the next open item is the text report.
    _keys(page, "1", "a", "n")
    page.wait_for_url(f"**/review/{text_item}")
    expect(page.locator("[data-undo-form]")).to_be_visible()
    with app.app_context():
        assert len(db.session.execute(select(Decision)).all()) == 2

    # Undo within the window: the decisions are gone, audited, and we are back on the item.
    _keys(page, "u")
    page.wait_for_url(f"**/review/{first}")
    with app.app_context():
        assert db.session.execute(select(Decision)).first() is None
    assert _audit(app, "decision.undo")

    # Decide again; once the window has passed a real worker makes it final.
    _keys(page, "1", "a", "n")
    page.wait_for_url(f"**/review/{text_item}")
    with app.app_context():
        db.session.execute(update(Decision).values(final_after=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        enqueue(FINALIZE_DECISIONS, get_redis())
    run_worker_burst(app)
    with app.app_context():
        statuses = {db.session.get(Report, i).status for i in (first, second)}
    assert statuses == {ReportStatus.DECIDED}
    _no_csp_violation(page)

    # The dashboard draws its charts from the JSON block, within the CSP.
    page.goto("/dashboard/")
    expect(page.locator('canvas[data-chart="depth"]')).to_have_attribute("data-rendered", "true")
    _no_csp_violation(page)

    # Korean, from the header switch.
    page.goto("/")
    page.click("a[hreflang=ko]")
    expect(page.locator("h1")).to_contain_text("대기열")
    _keys(page, "s")
    page.wait_for_url(f"**/review/{text_item}**")
    expect(page.locator("[data-decide-form] legend")).to_have_text("결정")
    _no_csp_violation(page)
