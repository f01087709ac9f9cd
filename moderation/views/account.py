"""A signed-in person's own account: change the password (ends every other session) and
replace the two-factor recovery codes."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from moderation.accounts import signin, totp
from moderation.accounts.login import start_browser_session
from moderation.accounts.passwords import MIN_PASSWORD_LENGTH
from moderation.accounts.users import PasswordRejected, change_password, get_user
from moderation.core.db import db
from moderation.core.errors import AuthenticationError, ValidationError

bp = Blueprint("account", __name__, url_prefix="/account")


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    new = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField("Repeat", validators=[DataRequired(), EqualTo("new")])


class RecoveryForm(FlaskForm):
    pass


def password_problem(error: ValidationError) -> str:
    """Why a new password was refused, in the reader's language."""
    reason = getattr(error, "reason", None) if isinstance(error, PasswordRejected) else None
    if reason == "too_common":
        return _(
            "This password is too common or too easy to guess. Choose a longer one, such as a"
            " few unrelated words."
        )
    if reason == "too_short":
        return _("The password must be at least %(count)s characters.", count=MIN_PASSWORD_LENGTH)
    if reason == "too_long":
        return _("The password is too long.")
    return error.message


@bp.get("/")
@login_required
def index() -> str:
    """The account page: role, unused recovery codes, links to change things."""
    remaining = totp.unused_recovery_codes(db.session, current_user.id)
    return render_template("auth/account.html", remaining=remaining, recovery_form=RecoveryForm())


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> str | Response | tuple[str, int]:
    """Change the password; every session of the account ends and this browser gets a new one."""
    form = PasswordForm()
    status = 400 if form.is_submitted() else 200
    if form.validate_on_submit():
        try:
            token = change_password(db.session, current_user.id, form.current.data, form.new.data)
        except AuthenticationError:
            flash(_("The current password is wrong."), "error")
            status = 401
        except ValidationError as error:
            flash(password_problem(error), "error")
            status = 422
        else:
            start_browser_session(get_user(db.session, current_user.id), token)
            flash(_("Your password was changed. Other browsers were signed out."), "info")
            return redirect(url_for("account.index"))
    return render_template("auth/password.html", form=form), status


@bp.post("/recovery-codes")
@login_required
def recovery_codes() -> str | Response:
    """Replace the recovery codes and show the new ones once."""
    if not RecoveryForm().validate_on_submit():
        return redirect(url_for("account.index"))
    codes = signin.regenerate_recovery_codes(db.session, current_user.id)
    return render_template(
        "auth/recovery_codes.html", codes=codes, next_url=url_for("account.index")
    )
