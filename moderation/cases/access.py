"""Who may know a case exists and who may work on it.

The report rules of moderation/accounts/permissions.py carry over to cases: a case is
restricted (known only to `CSAM_ROLES`) when it is typed suspected CSAM or holds any report
whose content is restricted (moderation/accounts/restriction.py), so a CSAM report cannot leak
through a case typed "other". On top of that a liaison knows only the cases assigned to them and
the unassigned ones; seniors and admins know every case. A case someone may not know is a 404.

These rules compare roles outside accounts/permissions.py because that matrix has no case
actions yet; folding them in (VIEW_CASES for seniors, a MANAGE_CASES action) is the UI's step.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from models import Case, CaseReport, CaseType, Report, Role, User
from moderation.accounts.restriction import restricted_clause
from moderation.cases.actor import Actor
from moderation.core.errors import ForbiddenError, NotFoundError, ValidationError

# Roles that work on cases: open them, add reports, move them along, write notes.
CASE_ROLES = (Role.SENIOR, Role.LIAISON, Role.ADMIN)
# Roles that may release a preservation hold (with a reason).
HOLD_RELEASE_ROLES = (Role.SENIOR, Role.ADMIN)
# Roles a case can be assigned to.
ASSIGNABLE_ROLES = (Role.LIAISON, Role.ADMIN)


def restricted_case_clause() -> ColumnElement[bool]:
    """True for `Case` rows whose content is suspected CSAM (by type or by any report)."""
    holds_restricted_report = exists(
        select(CaseReport.report_id)
        .join(Report, Report.id == CaseReport.report_id)
        .where(CaseReport.case_id == Case.id, restricted_clause())
    )
    return or_(Case.case_type == CaseType.CSAM_SUSPECTED.value, holds_restricted_report)


def is_restricted_case(session: Session, case: Case) -> bool:
    if str(case.case_type) == CaseType.CSAM_SUSPECTED:
        return True
    return (
        session.execute(
            select(Case.id).where(Case.id == case.id, restricted_case_clause()).limit(1)
        ).first()
        is not None
    )


def _role(actor: Actor) -> str | None:
    user = actor.user
    if user is None or not user.active:
        return None
    return str(user.role)


def visible_cases_clause(actor: Actor) -> ColumnElement[bool]:
    """A where-clause limiting `Case` rows to those `actor` may know exist (the command line
    knows every case)."""
    if actor.user is None:
        return true()
    role = _role(actor)
    if role not in CASE_ROLES:
        return false()
    conditions: list[ColumnElement[bool]] = []
    if role not in actor.csam_roles:
        conditions.append(~restricted_case_clause())
    if role == Role.LIAISON:
        conditions.append(
            or_(Case.assigned_liaison_id == actor.user.id, Case.assigned_liaison_id.is_(None))
        )
    return and_(true(), *conditions)


def require_case(session: Session, case_id: int, actor: Actor) -> Case:
    """The case `actor` may know, for working on it; NotFoundError (404) when it is missing or
    hidden (the same message), ForbiddenError when the actor's role does not work on cases."""
    found = session.execute(
        select(Case).where(Case.id == case_id, visible_cases_clause(actor))
    ).scalar_one_or_none()
    if found is None:
        raise NotFoundError("no such case")
    return found


def require_case_role(actor: Actor, roles: tuple[str, ...] = CASE_ROLES) -> None:
    """ForbiddenError unless `actor` is the command line or a user of one of `roles`."""
    if actor.user is None:
        return
    if _role(actor) not in roles:
        raise ForbiddenError("you do not have permission to do that")


def find_liaison(session: Session, email: str | None) -> User | None:
    """The active liaison (or admin) with that address; None for no address."""
    if not email:
        return None
    user = session.execute(
        select(User).where(User.email == email.strip().lower())
    ).scalar_one_or_none()
    if user is None or not user.active or str(user.role) not in ASSIGNABLE_ROLES:
        raise ValidationError("no active liaison with that address", code="invalid_liaison")
    return user


def check_assignee(
    session: Session, case: Case, liaison: User | None, csam_roles: tuple[str, ...]
) -> None:
    """A restricted (suspected-CSAM) case may only go to a role in `csam_roles` (config
    CSAM_ROLES), the roles that may know it exists."""
    if liaison is not None and str(liaison.role) not in csam_roles:
        if is_restricted_case(session, case):
            raise ValidationError(
                "this case holds suspected CSAM: assign it to someone in CSAM_ROLES",
                code="invalid_liaison",
            )
