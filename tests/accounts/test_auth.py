"""Sign-in, sign-out, CSRF and who may see the queue."""

from __future__ import annotations

from sqlalchemy import select

from models import AuditEvent
from moderation.core.db import db
from tests.factories import csrf_token, login, make_user


def _actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars())


def test_queue_requires_login(app, client):
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_login_and_queue_view_are_audited(app, client):
    make_user(app)
    response = login(client)
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    actions = _actions(app)
    assert "auth.login" in actions and "queue.view" in actions


def test_wrong_password_is_refused_and_audited_without_the_email(app, client):
    make_user(app)
    response = login(client, password="wrong password here")
    assert response.status_code == 401
    assert "email or password is wrong" in response.get_data(as_text=True)
    with app.app_context():
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "auth.login_failed")
        ).scalar_one()
        assert "mod@example.org" not in str(event.details)


def test_login_without_csrf_token_is_refused(app, client):
    make_user(app)
    response = client.post("/login", data={"email": "mod@example.org", "password": "x"})
    assert response.status_code == 400
    assert "auth.login" not in _actions(app)


def test_logout_really_ends_the_session(app, client):
    make_user(app)
    login(client)
    cookie = client.get_cookie("session")
    assert cookie is not None
    stolen = cookie.value
    page = client.get("/").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_token(page)}).status_code == 302
    assert client.get("/").status_code == 302
    # Replaying the old cookie (e.g. copied before logout) no longer works.
    replay = app.test_client()
    replay.set_cookie("session", stolen, domain="localhost")
    assert replay.get("/").status_code == 302
    assert "auth.logout" in _actions(app)


def test_disabled_user_is_signed_out(app, client):
    from models import User

    user_id = make_user(app)
    login(client)
    with app.app_context():
        db.session.get(User, user_id).active = False
        db.session.commit()
    assert client.get("/").status_code == 302


def test_open_redirect_after_login_is_ignored(app, client):
    make_user(app)
    page = client.get("/login?next=//evil.example/x")
    token = csrf_token(page.get_data(as_text=True))
    response = client.post(
        "/login?next=//evil.example/x",
        data={
            "email": "mod@example.org",
            "password": "correct horse battery staple",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302 and "evil" not in response.headers["Location"]


def test_security_headers(app, client):
    response = client.get("/login")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_pages_switch_to_korean_and_remember_it(app, client):
    page = client.get("/login?lang=ko")
    assert "로그인" in page.get_data(as_text=True)
    assert 'lang="ko"' in page.get_data(as_text=True)
    assert "로그인" in client.get("/login").get_data(as_text=True)  # the cookie remembers
    english = app.test_client().get("/login", headers={"Accept-Language": "en-US"})
    assert "Sign in" in english.get_data(as_text=True)
    korean = app.test_client().get("/login", headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert "로그인" in korean.get_data(as_text=True)
