"""flask-login wiring: the session cookie carries a revocable server-side session token."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import UserMixin, current_user

from models import User
from moderation.accounts.users import load_session_user
from moderation.core.db import db
from moderation.core.extensions import login_manager

F = TypeVar("F", bound=Callable[..., Any])

STAFF_ROLES = ("moderator", "senior", "liaison", "admin")


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


def roles_required(*roles: str) -> Callable[[F], F]:
    """Only signed-in users with one of `roles`; others get 403 (anonymous: the login page)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
