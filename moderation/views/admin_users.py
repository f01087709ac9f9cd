"""Admin pages for staff accounts: invite, disable or enable, change roles, reset sign-in.
Every change is an audit event (recorded by moderation/accounts/users.py and invitations.py)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, SelectField
from wtforms.validators import DataRequired, Length

from models import Role
from moderation.accounts import invitations, users
from moderation.accounts.permissions import Action, permission_required
from moderation.core.db import db
from moderation.core.errors import ConflictError, ValidationError
from moderation.core.redis_conn import get_redis
from moderation.notifications import account_mail, outbox
from moderation.settings import settings_for
from moderation.views.auth import invitation_url
from moderation.views.session import account_settings

bp = Blueprint("admin_users", __name__, url_prefix="/admin/users")

ROLE_CHOICES = [role.value for role in Role]


class InviteForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    role = SelectField("Role", choices=ROLE_CHOICES)


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class ActionForm(FlaskForm):
    pass


def _list(invite_form: InviteForm | None = None, status: int = 200) -> tuple[str, int]:
    return (
        render_template(
            "admin/users.html",
            users=users.list_users(db.session),
            sign_ins=users.sign_in_facts(db.session),
            invite_form=invite_form or InviteForm(),
            role_form=RoleForm(),
            action_form=ActionForm(),
        ),
        status,
    )


def _invitation_page(issued: invitations.IssuedInvitation) -> str:
    # The link is rendered once, here; only its digest is stored. The invitee gets the same
    # single-use link by email (sealed in the outbox until it is sent).
    link = invitation_url(issued.token)
    settings = settings_for(current_app).notifications
    mail_id = account_mail.notify_invitation(db.session, settings, issued.user.id, issued.token)
    outbox.send_soon(get_redis(), settings, mail_id)
    return render_template("admin/invited.html", user=issued.user, link=link)


@bp.get("/")
@permission_required(Action.MANAGE_USERS)
def index() -> tuple[str, int]:
    """Every staff account. Admins only (403 for other roles)."""
    return _list()


@bp.post("/invite")
@permission_required(Action.MANAGE_USERS)
def invite() -> str | tuple[str, int]:
    """Create an account and show its one-time enrolment link once."""
    form = InviteForm()
    if not form.validate_on_submit():
        return _list(form, 400)
    try:
        issued = invitations.invite(
            db.session, account_settings(), current_user.id, form.email.data, form.role.data
        )
    except (ValidationError, ConflictError) as error:
        flash(error.message, "error")
        return _list(form, error.status)
    return _invitation_page(issued)


@bp.post("/<int:user_id>/role")
@permission_required(Action.MANAGE_USERS)
def change_role(user_id: int) -> Response | tuple[str, int]:
    form = RoleForm()
    if not form.validate_on_submit():
        return _list(status=400)
    try:
        users.change_role(db.session, current_user.id, user_id, form.role.data)
    except (ValidationError, ConflictError) as error:
        flash(error.message, "error")
        return _list(status=error.status)
    flash(_("Role changed."), "info")
    return redirect(url_for("admin_users.index"))


def _set_active(user_id: int, active: bool) -> Response | tuple[str, int]:
    if not ActionForm().validate_on_submit():
        return _list(status=400)
    try:
        users.set_active(db.session, current_user.id, user_id, active)
    except ConflictError as error:
        flash(error.message, "error")
        return _list(status=error.status)
    flash(_("Account enabled.") if active else _("Account disabled and signed out."), "info")
    return redirect(url_for("admin_users.index"))


@bp.post("/<int:user_id>/disable")
@permission_required(Action.MANAGE_USERS)
def disable(user_id: int) -> Response | tuple[str, int]:
    """Disable an account; all its sessions end at once."""
    return _set_active(user_id, False)


@bp.post("/<int:user_id>/enable")
@permission_required(Action.MANAGE_USERS)
def enable(user_id: int) -> Response | tuple[str, int]:
    return _set_active(user_id, True)


@bp.post("/<int:user_id>/reset")
@permission_required(Action.MANAGE_USERS)
def reset(user_id: int) -> str | tuple[str, int]:
    """Remove password and second factor, end sessions, and show a fresh enrolment link once."""
    if not ActionForm().validate_on_submit():
        return _list(status=400)
    if user_id == current_user.id:
        flash(_("You cannot reset your own sign-in here."), "error")
        return _list(status=409)
    return _invitation_page(
        invitations.reset_sign_in(db.session, account_settings(), current_user.id, user_id)
    )
