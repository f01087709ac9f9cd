"""Sessions end when they should (password change, disable, idle) and sign-in is throttled."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from models import AuditEvent, User, UserSession, utcnow
from moderation.core.db import db
from tests.factories import PASSWORD, csrf_token, login, make_user, totp_code_for

NEW_PASSWORD = "a brand new long passphrase"


def _password_step(
    client, email: str = "mod@example.org", password: str = PASSWORD, address: str = "127.0.0.1"
):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def test_password_change_revokes_every_other_session(app, client):
    make_user(app)
    assert login(client).status_code == 302
    other = app.test_client()
    assert login(other).status_code == 302
    assert other.get("/").status_code == 200

    token = csrf_token(client.get("/account/password").get_data(as_text=True))
    changed = client.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "code": totp_code_for(app),
            "new": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": token,
        },
    )
    assert changed.status_code == 302
    assert client.get("/").status_code == 200  # this browser got a fresh session
    assert other.get("/").status_code == 302  # the other one is signed out
    assert login(app.test_client()).status_code == 401  # the old password is gone
    assert login(app.test_client(), password=NEW_PASSWORD).status_code == 302
    with app.app_context():
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "user.password_change")
        ).scalar_one()
        assert event.details == {"sessions_revoked": 2}


def test_password_change_needs_the_current_password_and_a_long_one(app, client):
    make_user(app)
    login(client)
    token = csrf_token(client.get("/account/password").get_data(as_text=True))
    wrong = client.post(
        "/account/password",
        data={
            "current": "not my password",
            "code": totp_code_for(app),
            "new": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": token,
        },
    )
    assert wrong.status_code == 401
    short = client.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "code": totp_code_for(app),
            "new": "short",
            "confirm": "short",
            "csrf_token": token,
        },
    )
    assert short.status_code == 422 and "at least 12 characters" in short.get_data(as_text=True)
    assert client.get("/").status_code == 200  # failures do not sign anyone out


def test_idle_session_expires_after_configured_minutes(app, client):
    app.config["SESSION_IDLE_MINUTES"] = 15
    make_user(app)
    login(client)
    assert client.get("/").status_code == 200
    with app.app_context():
        db.session.execute(
            update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=16))
        )
        db.session.commit()
    assert client.get("/").status_code == 302


def test_disabling_revokes_sessions_in_the_database(app, client):
    from moderation.accounts.users import set_active

    user_id = make_user(app)
    admin_id = make_user(app, "admin@example.org", "admin")
    login(client)
    with app.app_context():
        set_active(db.session, admin_id, user_id, False)
        rows = list(
            db.session.execute(select(UserSession).where(UserSession.user_id == user_id)).scalars()
        )
        assert rows and all(row.revoked_at is not None for row in rows)
        # Enabling again does not bring old sessions back.
        set_active(db.session, admin_id, user_id, True)
    assert client.get("/").status_code == 302


def test_failed_passwords_from_one_address_get_429(app, client):
    make_user(app)
    for _ in range(5):
        assert _password_step(client, password="wrong password!!").status_code == 401
    blocked = _password_step(client, password="wrong password!!")
    assert blocked.status_code == 429
    assert blocked.headers.get("Retry-After")
    assert "Too many sign-in attempts" in blocked.get_data(as_text=True)
    assert blocked.headers["Content-Security-Policy"]
    # Even the right password waits now: the throttle is checked first.
    assert _password_step(client).status_code == 429
    # Another address is not affected by this one's failures.
    assert _password_step(app.test_client(), address="127.0.0.2").status_code == 302


def test_successful_sign_ins_do_not_count(app, client):
    make_user(app)
    for _ in range(7):
        assert _password_step(app.test_client()).status_code == 302


def test_failed_passwords_for_one_account_from_many_addresses_get_429(app, client):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per hour"
    make_user(app)
    for n in range(3):
        assert (
            _password_step(client, password="wrong password!!", address=f"10.0.0.{n}").status_code
            == 401
        )
    assert _password_step(client, address="10.0.0.9").status_code == 429
    # Other accounts are unaffected.
    make_user(app, "other@example.org")
    assert _password_step(client, "other@example.org", address="10.0.0.9").status_code == 302


def test_wrong_codes_are_throttled(app, client):
    make_user(app)
    _password_step(client)
    token = csrf_token(client.get("/login/verify").get_data(as_text=True))
    statuses = [
        client.post("/login/verify", data={"code": "000000", "csrf_token": token}).status_code
        for _ in range(6)
    ]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429


def test_disabled_account_cannot_pass_the_password_step(app, client):
    user_id = make_user(app)
    with app.app_context():
        db.session.get(User, user_id).active = False
        db.session.commit()
    assert _password_step(client).status_code == 401


def test_a_session_ends_after_its_absolute_lifetime_however_busy(app, client):
    app.config["SESSION_MAX_DAYS"] = 14
    make_user(app)
    login(client)
    with app.app_context():
        # In use a minute ago, so the idle timeout is far away; signed in 14 days and a bit ago.
        db.session.execute(
            update(UserSession).values(
                created_at=utcnow() - timedelta(days=14, minutes=1),
                last_seen_at=utcnow() - timedelta(minutes=1),
            )
        )
        db.session.commit()
    assert client.get("/").status_code == 302


def test_a_session_within_its_lifetime_stays(app, client):
    app.config["SESSION_MAX_DAYS"] = 14
    make_user(app)
    login(client)
    with app.app_context():
        db.session.execute(
            update(UserSession).values(created_at=utcnow() - timedelta(days=13, hours=23))
        )
        db.session.commit()
    assert client.get("/").status_code == 200


def test_the_csrf_token_is_rotated_at_sign_in(app, client):
    make_user(app)
    before = csrf_token(client.get("/login").get_data(as_text=True))
    assert login(client).status_code == 302
    after = csrf_token(client.get("/account/").get_data(as_text=True))
    assert after != before
    # A token planted or read before sign-in (a fixated anonymous session) is worthless now.
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400
    assert client.get("/").status_code == 200
    assert client.post("/logout", data={"csrf_token": after}).status_code == 302
    assert client.get("/").status_code == 302
