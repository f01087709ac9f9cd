"""The review UI in Debian's Chromium, driven by Playwright, against a real server on 127.0.0.1:
sign in with TOTP, work the queue with the keyboard only, reveal (audited), decide a cluster,
undo, finalise through a real worker, read the dashboard charts, switch to Korean, and never
trip the Content-Security-Policy."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select, update
from werkzeug.serving import make_server

from models import AuditEvent, Decision, Report, ReportStatus, utcnow
from moderation.core.db import db
from moderation.core.queueing import FINALIZE_DECISIONS, enqueue
from moderation.core.redis_conn import get_redis
from tests.factories import PASSWORD, make_image, make_user, run_worker_burst, totp_code_for
from tests.review.review_factories import make_report

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SENIOR = "senior@example.org"


@pytest.fixture
def server(app) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app.config.update(SERVER_NAME=f"127.0.0.1:{port}", UNDO_SECONDS=60, RATELIMIT_ENABLED=False)
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def page(server) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(base_url=server, locale="en-GB")
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        page.console_errors = []  # type: ignore[attr-defined]
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))  # type: ignore[attr-defined]
        yield page
        browser.close()


def _no_csp_violation(page: Page) -> None:
    assert page.evaluate("window.__csp") == []
    assert not [m for m in page.console_errors if "Content Security Policy" in m]  # type: ignore[attr-defined]


def _audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars()
        )


def _keys(page: Page, *keys: str) -> None:
    """Press keys once this document's deferred script has attached its handlers: a key pressed
    earlier is lost, which made the test flaky on a loaded machine."""
    expect(page.locator("html[data-keys-ready]")).to_have_count(1)
    for key in keys:
        page.keyboard.press(key)


def _sign_in(app, page: Page) -> None:
    page.goto("/login")
    page.fill("#email", SENIOR)
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/login/verify**")
    page.fill("#code", totp_code_for(app, SENIOR))
    page.keyboard.press("Enter")
    page.wait_for_url("**/")


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
