"""Sensitive account actions need the password and a second-factor code again, throttled like
sign-in, so a stolen session can neither mint recovery codes nor guess the password (finding 5)."""

from __future__ import annotations

import re

from sqlalchemy import select

from models import RecoveryCode
from moderation.core.db import db
from tests.factories import PASSWORD, csrf_token, login, make_user, totp_code_for

NEW_PASSWORD = "a brand new long passphrase"
WRONG = "not my password at all"


def _code_hashes(app) -> set[str]:
    with app.app_context():
        return set(db.session.execute(select(RecoveryCode.code_hash)).scalars())


def _new_codes(client, password: str | None = PASSWORD, code: str | None = None):
    page = client.get("/account/recovery-codes").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page)}
    if password is not None:
        data["password"] = password
    if code is not None:
        data["code"] = code
    return client.post("/account/recovery-codes", data=data)


def _change(client, current: str, code: str | None):
    page = client.get("/account/password").get_data(as_text=True)
    data = {
        "current": current,
        "new": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
        "csrf_token": csrf_token(page),
    }
    if code is not None:
        data["code"] = code
    return client.post("/account/password", data=data)


def _signed_in_at(app, address: str):
    """A browser signed in from `address` (flask-login's strong session protection ties a
    session to the address it was made from, so a thief rotating addresses needs a session
    per address)."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    assert login(browser).status_code == 302
    return browser


def test_a_session_alone_cannot_mint_recovery_codes(app, client):
    make_user(app)
    login(client)
    before = _code_hashes(app)
    page = client.get("/account/").get_data(as_text=True)
    # What a stolen session could do before: the button's form, nothing else.
    bare = client.post("/account/recovery-codes", data={"csrf_token": csrf_token(page)})
    assert bare.status_code in (400, 401)
    assert not re.findall(r"<code>([A-Z0-9-]{19})</code>", bare.get_data(as_text=True))
    assert _new_codes(client, password=PASSWORD).status_code == 400  # no code
    wrong_password = _new_codes(client, password=WRONG, code=totp_code_for(app))
    assert wrong_password.status_code == 401
    assert _new_codes(client, code="000000").status_code == 401
    assert _code_hashes(app) == before


def test_password_and_code_mint_new_recovery_codes(app, client):
    make_user(app)
    login(client)
    answer = _new_codes(client, code=totp_code_for(app))
    assert answer.status_code == 200
    codes = re.findall(r"<code>([A-Z0-9-]{19})</code>", answer.get_data(as_text=True))
    assert len(codes) == 10


def test_a_password_change_needs_a_second_factor_code(app, client):
    make_user(app)
    login(client)
    assert _change(client, PASSWORD, None).status_code == 400
    assert _change(client, PASSWORD, "000000").status_code == 401
    assert login(app.test_client(), password=NEW_PASSWORD).status_code == 401  # unchanged
    assert _change(client, PASSWORD, totp_code_for(app)).status_code == 302
    assert login(app.test_client(), password=NEW_PASSWORD).status_code == 302


def test_guessing_the_password_from_a_session_is_throttled_per_address(app, client):
    make_user(app)
    login(client)
    for _ in range(5):
        assert _change(client, WRONG, totp_code_for(app)).status_code == 401
    blocked = _change(client, PASSWORD, totp_code_for(app))
    assert blocked.status_code == 429
    assert "Too many wrong attempts" in blocked.get_data(as_text=True)


def test_guessing_is_throttled_per_account_across_addresses_and_actions(app):
    make_user(app)
    for n in range(10):
        browser = _signed_in_at(app, f"10.0.0.{n}")
        if n % 2:
            answer = _new_codes(browser, password=WRONG, code=totp_code_for(app))
        else:
            answer = _change(browser, WRONG, totp_code_for(app))
        assert answer.status_code == 401, n
    # The right password from a fresh address waits too: the account's budget is spent.
    owner = _signed_in_at(app, "10.0.1.1")
    assert _change(owner, PASSWORD, totp_code_for(app)).status_code == 429
    assert _new_codes(owner, code=totp_code_for(app)).status_code == 429
    # Signing in and working are separate: the owner is not locked out of the queue.
    assert owner.get("/").status_code == 200


def test_an_incomplete_form_is_no_guess(app, client):
    make_user(app)
    login(client)
    for _ in range(6):
        assert _change(client, PASSWORD, None).status_code == 400
    assert _change(client, PASSWORD, totp_code_for(app)).status_code == 302


def test_failed_reauthentication_is_audited(app, client):
    from models import AuditEvent

    make_user(app)
    login(client)
    _change(client, WRONG, totp_code_for(app))
    with app.app_context():
        actions = list(db.session.execute(select(AuditEvent.action)).scalars())
    assert "auth.reauth_failed" in actions
