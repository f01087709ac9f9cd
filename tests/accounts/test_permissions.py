"""The permission module: the role matrix, object visibility (404 vs 403) and list filtering."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import select

from models import Media, Report, ReportStatus
from moderation.accounts.permissions import (
    ROLE_ACTIONS,
    Action,
    Principal,
    can,
    permission_required,
    require,
    visible_reports_clause,
)
from moderation.accounts.settings import DEFAULT_CSAM_ROLES
from moderation.core.db import db
from moderation.core.errors import ForbiddenError, NotFoundError
from moderation.intake.platforms import create_platform, get_platform

ROLES = ("moderator", "senior", "liaison", "admin")


def _user(
    role: str, active: bool = True, csam_roles: tuple[str, ...] = DEFAULT_CSAM_ROLES
) -> SimpleNamespace:
    return SimpleNamespace(
        id=1, role=role, active=active, is_authenticated=True, csam_roles=csam_roles
    )


def _report(category: str = "ncii", status: str = ReportStatus.QUEUED.value) -> Report:
    return Report(platform_id=1, category=category, reporter_kind="user", status=status)


EXPECTED_ALLOWED = {
    "moderator": {"view_queue", "view_report", "reveal_media", "decide", "escalate"},
    "senior": {
        "view_queue",
        "view_report",
        "reveal_media",
        "decide",
        "decide_cluster",
        "escalate",
        "view_dashboard",
        "view_contact",
        "take_over_claim",
        "view_cases",
        "manage_cases",
        "export_evidence",
        "decide_appeals",
        "add_to_bank",
    },
    "liaison": {"view_report", "reveal_media", "view_cases", "export_evidence", "view_contact"},
    "admin": {action.value for action in Action},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(Action))
def test_role_matrix(role, action):
    assert can(_user(role), action) is (action.value in EXPECTED_ALLOWED[role])


@pytest.mark.parametrize("action", list(Action))
def test_anonymous_unknown_role_and_disabled_users_may_do_nothing(action):
    assert not can(AnonymousUserMixin(), action)
    assert not can(None, action)
    assert not can(_user("root"), action)
    assert not can(_user("admin", active=False), action)


def test_every_role_is_in_the_matrix():
    assert set(ROLE_ACTIONS) == set(ROLES)


def test_csam_reports_are_unknown_to_moderators_and_liaisons(app):
    csam = _report("csam_suspected")
    media = Media(report=csam)
    with app.app_context():
        for role in ("moderator", "liaison"):
            with pytest.raises(NotFoundError):
                require(_user(role), Action.VIEW_REPORT, csam)
            with pytest.raises(NotFoundError):
                require(_user(role), Action.REVEAL_MEDIA, media)  # through .report
        for role in ("senior", "admin"):
            require(_user(role), Action.VIEW_REPORT, csam)
            require(_user(role), Action.REVEAL_MEDIA, media)


def test_csam_roles_are_configurable(app):
    from models import User
    from moderation.settings import settings_for

    def as_configured(role: str) -> Principal:
        roles = settings_for(app).accounts.csam_roles
        return Principal(User(email="a@example.org", role=role, active=True), roles)

    app.config["CSAM_ROLES"] = "admin"
    assert not can(as_configured("senior"), Action.VIEW_REPORT, _report("csam_suspected"))
    assert can(as_configured("admin"), Action.VIEW_REPORT, _report("csam_suspected"))
    app.config["CSAM_ROLES"] = ["senior", "admin", "moderator"]
    assert can(as_configured("moderator"), Action.VIEW_REPORT, _report("csam_suspected"))


def test_a_bare_user_is_never_guessed_into_the_csam_roles():
    """The rules read no configuration: a models.User, which carries no CSAM_ROLES, is refused
    outright for a report rather than judged by a default that may not be the configured one."""
    from models import User

    bare = User(email="a@example.org", role="senior", active=True)
    with pytest.raises(TypeError):
        can(bare, Action.VIEW_REPORT, _report("csam_suspected"))
    with pytest.raises(TypeError):
        visible_reports_clause(bare)


def test_a_signed_in_user_carries_the_csam_roles_of_the_settings(app):
    from models import User
    from moderation.settings import settings_for
    from moderation.views.session import SessionUser
    from tests.factories import make_user

    app.config["CSAM_ROLES"] = "admin"
    make_user(app, "senior@example.org", "senior")
    settings = settings_for(app).accounts
    assert settings.csam_roles == ("admin",)
    with app.app_context():
        browser_user = SessionUser(db.session.execute(select(User)).scalar_one(), "t", settings)
    # Decided by what the user carries, with no app (or its configuration) at hand.
    assert not can(browser_user, Action.VIEW_REPORT, _report("csam_suspected"))
    carried = SimpleNamespace(
        id=1, role="senior", active=True, is_authenticated=True, csam_roles=("senior",)
    )
    assert can(carried, Action.VIEW_REPORT, _report("csam_suspected"))


def test_liaison_sees_only_escalated_reports(app):
    with app.app_context():
        with pytest.raises(NotFoundError):
            require(_user("liaison"), Action.VIEW_REPORT, _report())
        require(_user("liaison"), Action.VIEW_REPORT, _report(status="escalated"))
        require(_user("liaison"), Action.REVEAL_MEDIA, _report(status="escalated"))
        # A known report, but an action the role lacks: 403, not 404.
        with pytest.raises(ForbiddenError):
            require(_user("liaison"), Action.DECIDE, _report(status="escalated"))


def test_known_object_without_the_action_is_403(app):
    with app.app_context():
        with pytest.raises(ForbiddenError):
            require(_user("moderator"), Action.DECIDE_CLUSTER, _report())
        with pytest.raises(ForbiddenError):
            require(_user("moderator"), Action.MANAGE_USERS)
        require(_user("senior"), Action.DECIDE_CLUSTER, _report())


def test_visible_reports_clause_filters_queries(app):
    with app.app_context():
        session = db.session

        create_platform(session, "acme")
        platform_id = get_platform(session, "acme").id
        rows = {
            "plain": Report(
                platform_id=platform_id, category="ncii", reporter_kind="user", status="queued"
            ),
            "csam": Report(
                platform_id=platform_id,
                category="csam_suspected",
                reporter_kind="user",
                status="queued",
            ),
            "escalated": Report(
                platform_id=platform_id, category="ncii", reporter_kind="user", status="escalated"
            ),
            "csam_escalated": Report(
                platform_id=platform_id,
                category="csam_suspected",
                reporter_kind="user",
                status="escalated",
            ),
        }
        session.add_all(rows.values())
        session.commit()
        ids = {name: report.id for name, report in rows.items()}

        def visible(user) -> set[str]:
            found = set(
                session.execute(select(Report.id).where(visible_reports_clause(user))).scalars()
            )
            return {name for name, report_id in ids.items() if report_id in found}

        assert visible(_user("moderator")) == {"plain", "escalated"}
        assert visible(_user("senior")) == set(ids)
        assert visible(_user("admin")) == set(ids)
        assert visible(_user("liaison")) == {"escalated"}
        assert visible(AnonymousUserMixin()) == set()
        assert visible(_user("admin", active=False)) == set()


def test_permission_required_decorator(app, client):
    from tests.factories import login, make_user

    @app.get("/needs-dashboard-for-test")
    @permission_required(Action.VIEW_DASHBOARD)
    def _dashboard() -> str:
        return "ok"

    response = client.get("/needs-dashboard-for-test")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    make_user(app, "mod@example.org", "moderator")
    make_user(app, "senior@example.org", "senior")
    login(client, "mod@example.org")
    assert client.get("/needs-dashboard-for-test").status_code == 403
    other = app.test_client()
    login(other, "senior@example.org")
    assert other.get("/needs-dashboard-for-test").get_data(as_text=True) == "ok"


def test_models_user_works_as_well_as_the_session_user(app):
    from models import User

    with app.app_context():
        assert can(
            User(email="a@example.org", role="admin", password_hash="x", active=True),
            Action.MANAGE_USERS,
        )
        assert not can(
            User(email="b@example.org", role="admin", password_hash="x", active=False),
            Action.MANAGE_USERS,
        )
