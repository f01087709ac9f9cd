"""Wrong passwords from many addresses cannot lock the owner out of their account (finding 15):
a browser that signed in before carries a device cookie, and the per-account limit gives it a
budget of its own."""

from __future__ import annotations

from tests.factories import PASSWORD, csrf_token, login, make_user

WRONG = "wrong password!!"


def _password_step(client, email: str = "mod@example.org", password: str = PASSWORD):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def _browser(app, address: str):
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def _sign_out(client) -> None:
    token = csrf_token(client.get("/account/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


def _attack(app, email: str = "mod@example.org", times: int = 10) -> None:
    for n in range(times):
        answer = _password_step(_browser(app, f"10.9.0.{n}"), email, WRONG)
        assert answer.status_code == 401, n


def test_wrong_passwords_from_many_addresses_do_not_lock_out_the_owners_browser(app):
    make_user(app)
    owner = _browser(app, "192.0.2.10")
    assert login(owner).status_code == 302  # earns the device cookie
    _sign_out(owner)
    _attack(app)
    # A browser that never signed in as this account is throttled: the guessing stops...
    assert _password_step(_browser(app, "10.9.1.1")).status_code == 429
    # ...but the owner's own browser signs in as usual.
    assert login(owner).status_code == 302
    assert owner.get("/").status_code == 200


def test_a_device_cookie_helps_only_the_account_that_earned_it(app):
    make_user(app)
    make_user(app, "other@example.org")
    browser = _browser(app, "192.0.2.10")
    assert login(browser, "other@example.org").status_code == 302
    _sign_out(browser)
    _attack(app)
    assert _password_step(browser).status_code == 429


def test_a_forged_device_cookie_is_ignored(app):
    make_user(app)
    _attack(app)
    browser = _browser(app, "192.0.2.10")
    browser.set_cookie("device", "forged.value.here", domain="localhost", path="/login")
    assert _password_step(browser).status_code == 429


def test_a_known_browser_has_a_budget_of_its_own(app):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per hour"
    make_user(app)
    owner = _browser(app, "192.0.2.10")
    assert login(owner).status_code == 302
    _sign_out(owner)
    # Someone using the owner's browser (or its stolen cookie) is throttled too.
    for n in range(3):
        owner.environ_base["REMOTE_ADDR"] = f"192.0.2.{20 + n}"
        assert _password_step(owner, password=WRONG).status_code == 401
    assert _password_step(owner).status_code == 429
    # Strangers' budget was not touched by it, and vice versa.
    assert _password_step(_browser(app, "10.9.1.1")).status_code == 302
