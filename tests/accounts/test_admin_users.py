"""Admin pages: invite (one-time enrolment link), disable, role change, reset; all audited."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
from sqlalchemy import select, update

from models import AuditEvent, Invitation, User, utcnow
from moderation.accounts import totp
from moderation.core.db import db
from tests.factories import csrf_token, login, make_user

INVITEE_PASSWORD = "invitee chose this passphrase"


def _admin(app, client) -> int:
    admin_id = make_user(app, "admin@example.org", "admin")
    assert login(client, "admin@example.org").status_code == 302
    return admin_id


def _token(client) -> str:
    return csrf_token(client.get("/admin/users/").get_data(as_text=True))


def _events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars()
        )


def _invite(client, email: str = "new@example.org", role: str = "moderator") -> str:
    page = client.post(
        "/admin/users/invite", data={"email": email, "role": role, "csrf_token": _token(client)}
    )
    assert page.status_code == 200, page.get_data(as_text=True)
    match = re.search(r'<code class="invite-link">([^<]+)</code>', page.get_data(as_text=True))
    assert match
    return match.group(1).replace("http://localhost", "")


def _open(invitee, link: str):
    """What the invitation page's script does: post the code from the link's fragment."""
    path, _, token = link.partition("#")
    page = invitee.get(path)
    assert page.status_code == 200
    return invitee.post(
        path, data={"token": token, "csrf_token": csrf_token(page.get_data(as_text=True))}
    )


def _accept(app, path: str, password: str = INVITEE_PASSWORD, code: str | None = None):
    invitee = app.test_client()
    page = _open(invitee, path)
    if page.status_code != 200:
        return invitee, page
    secret = re.search(
        r'<code class="totp-secret">([A-Z2-7 ]+)</code>', page.get_data(as_text=True)
    )
    code = code or pyotp.TOTP(secret.group(1).replace(" ", "")).now()
    answer = invitee.post(
        path.partition("#")[0],
        data={
            "token": path.partition("#")[2],
            "password": password,
            "confirm": password,
            "code": code,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )
    return invitee, answer


def test_only_admins_reach_the_user_pages(app, client):
    make_user(app, "senior@example.org", "senior")
    assert client.get("/admin/users/").status_code == 302  # anonymous: sign in first
    login(client, "senior@example.org")
    assert client.get("/admin/users/").status_code == 403


def test_invite_link_enrols_the_invitee_once(app, client):
    _admin(app, client)
    path = _invite(client, "New@Example.org", "senior")
    # The code rides in the fragment, which browsers never send: no log ever sees it.
    assert path.startswith("/invite#inv_")
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == "new@example.org")).scalar_one()
        assert not user.totp_enabled and user.role == "senior"
        stored = db.session.execute(select(Invitation.token_hash)).scalar_one()
        assert path.partition("#")[2] not in stored  # only a digest is kept
    # The invitee cannot sign in before using the link.
    assert login(app.test_client(), "new@example.org", INVITEE_PASSWORD).status_code == 401

    invitee, answer = _accept(app, path)
    assert answer.status_code == 200 and "Recovery codes" in answer.get_data(as_text=True)
    assert invitee.get("/").status_code == 200
    # The link is spent.
    assert _open(app.test_client(), path).status_code == 404
    assert login(app.test_client(), "new@example.org", INVITEE_PASSWORD).status_code == 302
    assert _events(app, "user.invite")[0].details == {"role": "senior"}
    assert _events(app, "user.invite_accepted")


def test_invite_refuses_wrong_code_short_password_and_expired_links(app, client):
    _admin(app, client)
    path = _invite(client)
    _, short = _accept(app, path, password="short")
    assert short.status_code == 422
    _, wrong = _accept(app, path, code="000000")
    assert wrong.status_code == 401
    with app.app_context():
        assert (
            db.session.execute(select(User).where(User.email == "new@example.org"))
            .scalar_one()
            .totp_enabled
            is False
        )
        db.session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    _, expired = _accept(app, path)
    assert expired.status_code == 404
    assert _open(app.test_client(), "/invite#inv_not-a-real-token").status_code == 404


def test_duplicate_or_bad_invites_are_refused_readably(app, client):
    _admin(app, client)
    duplicate = client.post(
        "/admin/users/invite",
        data={"email": "admin@example.org", "role": "moderator", "csrf_token": _token(client)},
    )
    assert duplicate.status_code == 409 and "exists" in duplicate.get_data(as_text=True)
    bad_role = client.post(
        "/admin/users/invite",
        data={"email": "x@example.org", "role": "root", "csrf_token": _token(client)},
    )
    assert bad_role.status_code == 400


def test_disable_signs_the_user_out_and_is_audited(app, client):
    admin_id = _admin(app, client)
    user_id = make_user(app)
    moderator = app.test_client()
    login(moderator)
    assert moderator.get("/").status_code == 200
    answer = client.post(f"/admin/users/{user_id}/disable", data={"csrf_token": _token(client)})
    assert answer.status_code == 302
    assert moderator.get("/").status_code == 302
    assert login(app.test_client()).status_code == 401
    event = _events(app, "user.disable")[0]
    assert event.actor_user_id == admin_id and event.object_id == str(user_id)
    assert event.details == {"sessions_revoked": 1}
    client.post(f"/admin/users/{user_id}/enable", data={"csrf_token": _token(client)})
    assert login(app.test_client()).status_code == 302
    assert _events(app, "user.enable")


def test_admin_cannot_disable_or_demote_themselves(app, client):
    admin_id = _admin(app, client)
    assert (
        client.post(
            f"/admin/users/{admin_id}/disable", data={"csrf_token": _token(client)}
        ).status_code
        == 409
    )
    demote = client.post(
        f"/admin/users/{admin_id}/role", data={"role": "moderator", "csrf_token": _token(client)}
    )
    assert demote.status_code == 409
    assert client.get("/admin/users/").status_code == 200


def test_role_change_applies_at_once_and_is_audited(app, client):
    _admin(app, client)
    user_id = make_user(app)
    moderator = app.test_client()
    login(moderator)
    assert moderator.get("/admin/users/").status_code == 403
    answer = client.post(
        f"/admin/users/{user_id}/role", data={"role": "admin", "csrf_token": _token(client)}
    )
    assert answer.status_code == 302
    assert moderator.get("/admin/users/").status_code == 200
    assert _events(app, "user.role_change")[0].details == {"from": "moderator", "to": "admin"}


def test_actions_on_unknown_users_are_404(app, client):
    _admin(app, client)
    assert (
        client.post("/admin/users/9999/disable", data={"csrf_token": _token(client)}).status_code
        == 404
    )
    assert (
        client.post(
            "/admin/users/9999/role", data={"role": "senior", "csrf_token": _token(client)}
        ).status_code
        == 404
    )


def test_reset_sign_in_issues_a_new_link_and_ends_sessions(app, client):
    _admin(app, client)
    user_id = make_user(app)
    moderator = app.test_client()
    login(moderator)
    page = client.post(f"/admin/users/{user_id}/reset", data={"csrf_token": _token(client)})
    assert page.status_code == 200
    path = re.search(
        r'<code class="invite-link">([^<]+)</code>', page.get_data(as_text=True)
    ).group(1)
    assert moderator.get("/").status_code == 302
    assert login(app.test_client()).status_code == 401  # the old password no longer works
    with app.app_context():
        assert db.session.get(User, user_id).totp_secret_sealed is None
    invitee, answer = _accept(app, path.replace("http://localhost", ""))
    assert answer.status_code == 200 and invitee.get("/").status_code == 200
    with app.app_context():
        assert db.session.get(User, user_id).totp_enabled
        assert totp.unused_recovery_codes(db.session, user_id) == totp.RECOVERY_CODE_COUNT
    assert _events(app, "user.sign_in_reset")


def test_admin_pages_need_csrf(app, client):
    _admin(app, client)
    user_id = make_user(app)
    assert client.post(f"/admin/users/{user_id}/disable").status_code == 400
    with app.app_context():
        assert db.session.get(User, user_id).active


def test_the_staff_page_shows_last_sign_in_and_pending_invitations(app, client):
    _admin(app, client)
    _invite(client, "pending@example.org")
    page = client.get("/admin/users/?lang=en").get_data(as_text=True)
    pending = page.split('id="user-')[1:]
    row = next(r for r in pending if "pending@example.org" in r)
    assert "Invited, not set up" in row and "link expires" in row and "never" in row
    admin_row = next(r for r in pending if "admin@example.org" in r)
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d</td>", admin_row)  # signed in just now
    with app.app_context():
        db.session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    page = client.get("/admin/users/?lang=en").get_data(as_text=True)
    assert "Invitation expired" in page
