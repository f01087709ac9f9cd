"""flask-login wiring: the session cookie carries a revocable server-side session token."""

from __future__ import annotations

from flask_login import UserMixin

from models import User
from moderation.accounts.users import load_session_user
from moderation.core.db import db
from moderation.core.extensions import login_manager


class SessionUser(UserMixin):
    """The signed-in user as flask-login sees it. `get_id` is the session token (flask-login's
    'alternative token' pattern), so revoking the row signs the browser out everywhere."""

    def __init__(self, user: User, token: str):
        self.user = user
        self.token = token
        self.id = user.id
        self.role = user.role
        self.email = user.email

    def get_id(self) -> str:
        return self.token


@login_manager.user_loader
def _load(token: str) -> SessionUser | None:
    user = load_session_user(db.session, token)
    return SessionUser(user, token) if user else None
