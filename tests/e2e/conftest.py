"""Browser fixtures: a real server on 127.0.0.1 for the test's app and Debian's Chromium driven
by Playwright, with the helpers the browser tests share."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from models import AuditEvent
from moderation.core.db import db
from tests.factories import PASSWORD, totp_code_for

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
