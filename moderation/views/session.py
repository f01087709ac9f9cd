"""flask-login wiring, a view-layer concern and so beside the views: the session cookie carries
a revocable server-side session token; the account services it calls take their settings."""

from __future__ import annotations

from flask import current_app, g, session
from flask_login import UserMixin, login_user

from models import User
from moderation.accounts.settings import AccountSettings
from moderation.accounts.users import load_session_user
from moderation.core.db import db
from moderation.core.extensions import login_manager
from moderation.settings import settings_for


class SessionUser(UserMixin):
    """The signed-in user as flask-login sees it. `get_id` is the session token (flask-login's
    'alternative token' pattern), so revoking the row signs the browser out everywhere.
    It carries the configured `csam_roles`, which moderation/accounts/permissions.py asks of the
    user instead of reading the app's configuration."""

    def __init__(self, user: User, token: str, settings: AccountSettings):
        self.user = user
        self.token = token
        self.id = user.id
        self.role = user.role
        self.email = user.email
        self.csam_roles = settings.csam_roles

    def get_id(self) -> str:
        return self.token


def account_settings() -> AccountSettings:
    """The current app's account settings (for views and this wiring)."""
    return settings_for(current_app).accounts


@login_manager.user_loader
def _load(token: str) -> SessionUser | None:
    settings = account_settings()
    user = load_session_user(db.session, settings, token)
    return SessionUser(user, token, settings) if user else None


def start_browser_session(user: User, token: str) -> None:
    """Sign this browser in with a fresh server-side session token, and drop the CSRF secret it
    had before: a token planted in or read from the anonymous session (session fixation of the
    CSRF secret) must not work once someone is signed in. Flask-WTF makes a new one on the next
    form."""
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    session.pop(field, None)
    g.pop(field, None)
    login_user(SessionUser(user, token, account_settings()))
