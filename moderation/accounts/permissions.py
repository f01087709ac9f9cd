"""The one place that decides who may see and do what. Views and services ask `can`/`require`;
list queries add `visible_reports_clause`; nothing else compares roles.

Role matrix (an action not listed is refused):

| action          | moderator | senior | liaison             | admin |
|-----------------|-----------|--------|---------------------|-------|
| VIEW_QUEUE      | yes       | yes    | -                   | yes   |
| VIEW_REPORT     | yes       | yes    | escalated only      | yes   |
| REVEAL_MEDIA    | yes       | yes    | escalated only      | yes   |
| DECIDE          | yes       | yes    | -                   | yes   |
| DECIDE_CLUSTER  | -         | yes    | -                   | yes   |
| ESCALATE        | yes       | yes    | -                   | yes   |
| VIEW_CONTACT    | -         | yes    | escalated only      | yes   |
| TAKE_OVER_CLAIM | -         | yes    | -                   | yes   |
| VIEW_CASES      | -         | yes    | yes                 | yes   |
| MANAGE_CASES    | -         | yes    | -                   | yes   |
| DECIDE_APPEALS  | -         | yes    | -                   | yes   |
| ADD_TO_BANK     | -         | yes    | -                   | yes   |
| EXPORT_EVIDENCE | -         | yes    | yes                 | yes   |
| VIEW_DASHBOARD  | -         | yes    | -                   | yes   |
| VIEW_JOBS       | -         | -      | -                   | yes   |
| MANAGE_USERS    | -         | -      | -                   | yes   |
| MANAGE_BANKS    | -         | -      | -                   | yes   |
| MANAGE_PLATFORMS| -         | -      | -                   | yes   |

Objects: a report (or anything with a `.report`, e.g. media, signals, decisions) whose content is
suspected CSAM (its own category, its cluster's, or the same bytes as such a report's media: see
moderation/accounts/restriction.py) exists only for roles in config `CSAM_ROLES` (default senior
and admin); a liaison
knows only escalated reports. For an object a user may not know exists, `require` raises
NotFoundError (404), never ForbiddenError (403), so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, false, true

from models import Category, Media, Report, ReportStatus, Role
from moderation.accounts.restriction import is_restricted, restricted_clause
from moderation.core.errors import ForbiddenError, NotFoundError
from moderation.core.extensions import login_manager

F = TypeVar("F", bound=Callable[..., Any])


class Action(StrEnum):
    VIEW_QUEUE = "view_queue"
    VIEW_REPORT = "view_report"
    REVEAL_MEDIA = "reveal_media"
    DECIDE = "decide"
    DECIDE_CLUSTER = "decide_cluster"
    ESCALATE = "escalate"
    VIEW_CASES = "view_cases"
    # Every case (not only one's own), open cases from escalated reports, assign them.
    MANAGE_CASES = "manage_cases"
    # Uphold or reverse a final decision on appeal (never one's own).
    DECIDE_APPEALS = "decide_appeals"
    # Add a report's media to a hash bank from the item page, without a decision.
    ADD_TO_BANK = "add_to_bank"
    MANAGE_USERS = "manage_users"
    MANAGE_BANKS = "manage_banks"
    # Platforms' decision callbacks: see deliveries and redeliver.
    MANAGE_PLATFORMS = "manage_platforms"
    VIEW_DASHBOARD = "view_dashboard"
    VIEW_JOBS = "view_jobs"
    EXPORT_EVIDENCE = "export_evidence"
    # Open the contact data sealed with a report (a victim's, or a Mastodon reporter's).
    VIEW_CONTACT = "view_contact"
    # Take over a claim another moderator holds (they left, or the item is stuck).
    TAKE_OVER_CLAIM = "take_over_claim"


CSAM_CATEGORY = Category.CSAM_SUSPECTED
LIAISON_ROLE = Role.LIAISON

_MODERATOR = frozenset(
    {Action.VIEW_QUEUE, Action.VIEW_REPORT, Action.REVEAL_MEDIA, Action.DECIDE, Action.ESCALATE}
)
ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.MODERATOR: _MODERATOR,
    Role.SENIOR: _MODERATOR
    | {
        Action.DECIDE_CLUSTER,
        Action.VIEW_DASHBOARD,
        Action.VIEW_CONTACT,
        Action.TAKE_OVER_CLAIM,
        Action.VIEW_CASES,
        Action.MANAGE_CASES,
        Action.EXPORT_EVIDENCE,
        Action.DECIDE_APPEALS,
        Action.ADD_TO_BANK,
    },
    LIAISON_ROLE: frozenset(
        {
            Action.VIEW_REPORT,
            Action.REVEAL_MEDIA,
            Action.VIEW_CASES,
            Action.EXPORT_EVIDENCE,
            Action.VIEW_CONTACT,
        }
    ),
    Role.ADMIN: frozenset(Action),
}


@dataclass(frozen=True)
class Principal:
    """A `models.User` as these rules see it: the account and the configured `CSAM_ROLES`.

    The rules never read the app's configuration, so whoever asks about a user passes the roles
    along: a signed-in browser's user (views/session.py's SessionUser) carries them already; a
    service holding a `models.User` (a case's actor, a digest's recipient) wraps it in this."""

    user: Any
    csam_roles: tuple[str, ...]
    is_authenticated: bool = True

    @property
    def id(self) -> int:
        return int(self.user.id)

    @property
    def role(self) -> str:
        return str(self.user.role)

    @property
    def active(self) -> bool:
        return bool(self.user.active)


def _csam_roles_of(user: Any) -> tuple[str, ...]:
    carried = getattr(user, "csam_roles", None)
    if carried is None:
        # No silent default: a wrong guess here would show suspected CSAM to the wrong role.
        raise TypeError("ask about a Principal (or a SessionUser), not a bare user")
    return tuple(carried)


def _role(user: Any) -> str | None:
    """The role of a signed-in, active user; None for anonymous or disabled accounts."""
    if user is None or not getattr(user, "is_authenticated", True):
        return None
    if getattr(user, "active", True) is False:
        return None
    role = getattr(user, "role", None)
    return str(role) if role is not None else None


def _report_of(obj: Any) -> Any | None:
    if isinstance(obj, Report):
        return obj
    if hasattr(obj, "category") and hasattr(obj, "status"):
        return obj
    report = getattr(obj, "report", None)
    return report if report is not None and hasattr(report, "category") else None


def may_know(user: Any, obj: Any) -> bool:
    """Whether `obj` may exist as far as `user` is concerned (False means: answer 404)."""
    role = _role(user)
    if role is None:
        return False
    report = _report_of(obj)
    if report is None:
        return True
    if role not in _csam_roles_of(user) and is_restricted(report):
        return False
    if role == LIAISON_ROLE and str(report.status) != ReportStatus.ESCALATED:
        return False
    return True


def can(user: Any, action: Action, obj: Any = None) -> bool:
    """True if `user` (flask-login's current_user or a models.User) may do `action` on `obj`."""
    role = _role(user)
    if role is None or Action(action) not in ROLE_ACTIONS.get(role, frozenset()):
        return False
    return obj is None or may_know(user, obj)


def not_found_message(obj: Any) -> str:
    """What a 404 says for `obj`'s kind, the same whether it is missing or hidden."""
    return "no such media" if isinstance(obj, Media) else "no such report"


def require(user: Any, action: Action, obj: Any = None) -> None:
    """Raise unless `can(user, action, obj)`.

    NotFoundError (404) when `obj` is something the user may not know exists; ForbiddenError
    (403) for a known object or an action the role lacks.
    """
    if obj is not None and not may_know(user, obj):
        # The very message a missing object gets: a hidden one must be indistinguishable.
        raise NotFoundError(not_found_message(obj))
    if not can(user, action, obj):
        raise ForbiddenError("you do not have permission to do that")


def visible_reports_clause(user: Any) -> ColumnElement[bool]:
    """A where-clause limiting `Report` rows to those `user` may know exist."""
    role = _role(user)
    if role is None or role not in ROLE_ACTIONS:
        return false()
    conditions: list[ColumnElement[bool]] = []
    if role not in _csam_roles_of(user):
        conditions.append(~restricted_clause())
    if role == LIAISON_ROLE:
        conditions.append(Report.status == ReportStatus.ESCALATED.value)
    return and_(*conditions) if conditions else true()


def actions_for(user: Any) -> Iterable[Action]:
    """Every action the user's role allows (for menus)."""
    role = _role(user)
    return ROLE_ACTIONS.get(role, frozenset()) if role else frozenset()


def permission_required(action: Action) -> Callable[[F], F]:
    """View decorator: anonymous users go to sign-in; users whose role lacks `action` get 403.
    Object checks (404 for unknowable objects) stay in the view via `require(..., obj)`."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            from flask_login import current_user

            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            require(current_user, action)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
