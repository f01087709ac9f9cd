"""Two-factor sign-in: enrolment, codes used once, recovery codes used once, sealed secrets."""

from __future__ import annotations

import base64
import json
import re

import pyotp
import pytest
from sqlalchemy import select

from models import AuditEvent, RecoveryCode, User, UserSession
from moderation.accounts import totp
from moderation.core.db import db
from moderation.core.errors import ConflictError
from tests.factories import PASSWORD, csrf_token, login, make_user, totp_code_for


def _actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars())


def _password_step(client, email: str = "mod@example.org", password: str = PASSWORD):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def _post_code(client, path: str, code: str):
    token = csrf_token(client.get(path).get_data(as_text=True))
    return client.post(path, data={"code": code, "csrf_token": token})


def _make_legacy_user(app, email: str = "mod@example.org") -> int:
    """An account from before two-factor sign-in existed: no secret, not enabled."""
    user_id = make_user(app, email)
    with app.app_context():
        user = db.session.get(User, user_id)
        user.totp_secret_sealed = None
        user.totp_enabled = False
        db.session.commit()
    return user_id


def _enrol_legacy(app, client) -> list[str]:
    """Sign a legacy user in through forced enrolment; returns the recovery codes shown."""
    first = _password_step(client)
    assert first.status_code == 302 and "/login/enrol" in first.headers["Location"]
    page = client.get("/login/enrol").get_data(as_text=True)
    assert "data:image/svg+xml;base64," in page
    done = _post_code(client, "/login/enrol", totp_code_for(app))
    assert done.status_code == 200
    codes = re.findall(
        r"<code>([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})</code>",
        done.get_data(as_text=True),
    )
    assert len(codes) == totp.RECOVERY_CODE_COUNT
    return codes


def test_legacy_user_must_enrol_before_seeing_anything(app, client):
    _make_legacy_user(app)
    first = _password_step(client)
    assert "/login/enrol" in first.headers["Location"]
    # No session yet: the queue still sends them to sign in.
    assert client.get("/").status_code == 302
    # Skipping enrolment by going to the code page does not work either.
    assert client.get("/login/verify").status_code == 302
    wrong = _post_code(client, "/login/enrol", "000000")
    assert wrong.status_code == 401
    assert client.get("/").status_code == 302


def test_enrolment_shows_qr_and_recovery_codes_then_signs_in(app, client):
    _make_legacy_user(app)
    codes = _enrol_legacy(app, client)
    assert client.get("/").status_code == 200
    actions = _actions(app)
    assert "auth.totp_enrolled" in actions and "auth.login" in actions
    with app.app_context():
        stored = list(db.session.execute(select(RecoveryCode.code_hash)).scalars())
        assert len(stored) == len(codes)
        assert not any(code.replace("-", "") in "".join(stored) for code in codes)


def test_enrolment_qr_is_stable_across_reloads(app, client):
    _make_legacy_user(app)
    _password_step(client)
    first = client.get("/login/enrol").get_data(as_text=True)
    second = client.get("/login/enrol").get_data(as_text=True)
    qr = re.compile(r'src="(data:image/svg\+xml;base64,[^"]+)"')
    assert qr.search(first).group(1) == qr.search(second).group(1)
    svg = base64.b64decode(qr.search(first).group(1).split(",", 1)[1])
    assert svg.startswith(b"<?xml") or b"<svg" in svg[:200]


def test_login_needs_the_code_and_a_used_code_is_refused(app, client):
    make_user(app)
    first = _password_step(client)
    assert "/login/verify" in first.headers["Location"]
    assert client.get("/").status_code == 302  # the password alone is not a session
    code = totp_code_for(app)
    assert _post_code(client, "/login/verify", code).status_code == 302
    assert client.get("/").status_code == 200
    # The same code, seen over a shoulder, on another browser: refused.
    other = app.test_client()
    _password_step(other)
    replay = _post_code(other, "/login/verify", code)
    assert replay.status_code == 401
    assert "wrong or was already used" in replay.get_data(as_text=True)
    assert other.get("/").status_code == 302


def test_wrong_code_is_refused_and_audited(app, client):
    make_user(app)
    _password_step(client)
    secret_code = totp_code_for(app)
    wrong = f"{(int(secret_code) + 1) % 1_000_000:06d}"
    assert _post_code(client, "/login/verify", wrong).status_code == 401
    with app.app_context():
        failed = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "auth.login_failed")
        ).scalar_one()
        assert failed.details == {"step": "second_factor"}


def test_recovery_code_works_once(app, client):
    _make_legacy_user(app)
    codes = _enrol_legacy(app, client)
    token = csrf_token(client.get("/").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})

    second = app.test_client()
    _password_step(second)
    assert _post_code(second, "/login/verify", codes[0].lower()).status_code == 302
    assert second.get("/").status_code == 200
    with app.app_context():
        login_event = (
            db.session.execute(
                select(AuditEvent)
                .where(AuditEvent.action == "auth.login")
                .order_by(AuditEvent.id.desc())
            )
            .scalars()
            .first()
        )
        assert login_event.details == {"method": "recovery_code"}

    third = app.test_client()
    _password_step(third)
    assert _post_code(third, "/login/verify", codes[0]).status_code == 401
    assert third.get("/").status_code == 302


def test_regenerated_recovery_codes_replace_the_old(app, client):
    _make_legacy_user(app)
    old_codes = _enrol_legacy(app, client)
    token = csrf_token(client.get("/account/recovery-codes").get_data(as_text=True))
    page = client.post(
        "/account/recovery-codes",
        data={"password": PASSWORD, "code": old_codes[0], "csrf_token": token},
    ).get_data(as_text=True)
    new_codes = re.findall(r"<code>([A-Z0-9-]{19})</code>", page)
    assert len(new_codes) == totp.RECOVERY_CODE_COUNT and not set(new_codes) & set(old_codes)
    other = app.test_client()
    _password_step(other)
    assert _post_code(other, "/login/verify", old_codes[1]).status_code == 401
    assert _post_code(other, "/login/verify", new_codes[1]).status_code == 302


def test_code_step_expires_without_password_step(app, client):
    make_user(app)
    assert client.get("/login/verify").status_code == 302
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login/verify", data={"code": "123456", "csrf_token": token})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_check_code_window_and_replay(app):
    user_id = make_user(app)
    with app.app_context():
        user = db.session.get(User, user_id)
        secret = totp.open_secret(app.config, user)
        now = 1_900_000_000.0
        step = totp.current_step(now)
        assert totp.check_code(
            db.session, app.config, user, totp.code_at_step(secret, step - 1), now
        )
        # Once step-1 is used, it and anything earlier are replays; the current step still works.
        assert not totp.check_code(
            db.session, app.config, user, totp.code_at_step(secret, step - 1), now
        )
        assert not totp.check_code(
            db.session, app.config, user, totp.code_at_step(secret, step - 2), now
        )
        assert totp.check_code(db.session, app.config, user, totp.code_at_step(secret, step), now)
        assert not totp.check_code(
            db.session, app.config, user, totp.code_at_step(secret, step), now
        )
        # Too far ahead is refused; bad shapes are refused without error.
        assert not totp.check_code(
            db.session, app.config, user, totp.code_at_step(secret, step + 3), now
        )
        assert not totp.check_code(db.session, app.config, user, "12a456", now)
        db.session.commit()
        assert db.session.get(User, user_id).last_totp_step == step


def test_secret_is_sealed_and_bound_to_its_user(app):
    first_id = make_user(app, "one@example.org")
    second_id = make_user(app, "two@example.org")
    with app.app_context():
        first = db.session.get(User, first_id)
        second = db.session.get(User, second_id)
        secret = totp.open_secret(app.config, first)
        assert secret.encode() not in first.totp_secret_sealed
        assert len(pyotp.TOTP(secret).now()) == 6
        # A sealed secret copied onto another account does not open there.
        second.totp_secret_sealed = first.totp_secret_sealed
        with pytest.raises(ConflictError):
            totp.open_secret(app.config, second)
        # Nor does it open under another MEDIA_KEY.
        other_key = dict(app.config, MEDIA_KEY=base64.b64encode(b"\x07" * 32).decode())
        with pytest.raises(ConflictError):
            totp.open_secret(other_key, first)
        db.session.rollback()


def test_legacy_session_without_second_factor_is_no_longer_valid(app, client):
    user_id = make_user(app)
    assert login(client).status_code == 302
    with app.app_context():
        db.session.get(User, user_id).totp_enabled = False
        db.session.commit()
    assert client.get("/").status_code == 302


def test_cli_user_add_prints_a_working_totp_uri(app, runner, client):
    result = runner.invoke(
        args=["user", "add", "Ops@Example.org", "--role", "admin", "--password-stdin", "--json"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["totp_uri"].startswith("otpauth://totp/")
    code = pyotp.parse_uri(doc["totp_uri"]).now()
    _password_step(client, "ops@example.org", "a long enough password")
    assert _post_code(client, "/login/verify", code).status_code == 302
    assert client.get("/").status_code == 200
    with app.app_context():
        assert db.session.execute(select(UserSession)).scalar_one().revoked_at is None


def test_two_factor_pages_speak_korean(app, client):
    _make_legacy_user(app)
    _password_step(client)
    page = client.get("/login/enrol?lang=ko").get_data(as_text=True)
    assert "2단계 인증 설정" in page and "인증 앱" in page
