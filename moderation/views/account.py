"""A signed-in person's own account: change the password (ends every other session) and
replace the two-factor recovery codes. Both ask for the password and a second-factor code again
(a session cookie alone is not enough), throttled like sign-in."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from moderation.accounts import signin, totp
from moderation.accounts.passwords import MIN_PASSWORD_LENGTH
from moderation.accounts.users import PasswordRejected, change_password, get_user
from moderation.core.db import db
from moderation.core.errors import AuthenticationError, ValidationError
from moderation.core.limits import limiter, unauthenticated_failure
from moderation.core.redis_conn import get_redis
from moderation.notifications import account_mail, outbox
from moderation.settings import settings_for
from moderation.views.session import account_settings, start_browser_session

bp = Blueprint("account", __name__, url_prefix="/account")


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    code = StringField("Code", validators=[DataRequired(), Length(max=32)])
    new = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField("Repeat", validators=[DataRequired(), EqualTo("new")])


class RecoveryForm(FlaskForm):
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    code = StringField("Code", validators=[DataRequired(), Length(max=32)])


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


def _reauth_account_key() -> str:
    # Its own budget, apart from sign-in's: a thief guessing from a stolen session spends this
    # account's re-authentication budget, never the owner's ability to sign in.
    return f"reauth:{getattr(current_user, 'id', None)}"


def _too_many() -> str:
    return _("Too many wrong attempts. Wait a while and try again.")


def _throttled(view: Any) -> Any:
    """Per address and per account, shared by every action that re-authenticates, with
    sign-in's limits (LOGIN_LIMIT_PER_ADDRESS, LOGIN_LIMIT_PER_ACCOUNT). Only a wrong password
    or code (401) spends them: an incomplete form or a refused new password is no guess."""
    per_address = limiter.shared_limit(
        lambda: str(current_app.config["LOGIN_LIMIT_PER_ADDRESS"]),
        scope="reauth-address",
        methods=["POST"],
        deduct_when=unauthenticated_failure,
        error_message=_too_many,
    )
    per_account = limiter.shared_limit(
        lambda: str(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]),
        scope="reauth-account",
        key_func=_reauth_account_key,
        methods=["POST"],
        deduct_when=unauthenticated_failure,
        error_message=_too_many,
    )
    return per_address(per_account(view))


@bp.get("/")
@login_required
def index() -> str:
    """The account page: role, unused recovery codes, links to change things."""
    remaining = totp.unused_recovery_codes(db.session, current_user.id)
    return render_template("auth/account.html", remaining=remaining)


@bp.route("/password", methods=["GET", "POST"])
@login_required
@_throttled
def password() -> str | Response | tuple[str, int]:
    """Change the password (needs the current one and a code); every session of the account
    ends and this browser gets a new one. 401 for a wrong password or code, 429 after too many."""
    form = PasswordForm()
    status = 400 if form.is_submitted() else 200
    if form.validate_on_submit():
        try:
            token = change_password(
                db.session,
                account_settings(),
                current_user.id,
                form.current.data,
                form.code.data,
                form.new.data,
            )
        except AuthenticationError:
            flash(_("The password or the code is wrong."), "error")
            status = 401
        except ValidationError as error:
            flash(password_problem(error), "error")
            status = 422
        else:
            start_browser_session(get_user(db.session, current_user.id), token)
            settings = settings_for(current_app).notifications
            mail_id = account_mail.notify_password_changed(db.session, settings, current_user.id)
            outbox.send_soon(get_redis(), settings, mail_id)
            flash(_("Your password was changed. Other browsers were signed out."), "info")
            return redirect(url_for("account.index"))
    return render_template("auth/password.html", form=form), status


@bp.route("/recovery-codes", methods=["GET", "POST"])
@login_required
@_throttled
def recovery_codes() -> str | tuple[str, int]:
    """Replace the recovery codes (needs the password and a code) and show the new ones once.
    401 for a wrong password or code, 429 after too many."""
    form = RecoveryForm()
    status = 400 if form.is_submitted() else 200
    if form.validate_on_submit():
        try:
            codes = signin.regenerate_recovery_codes(
                db.session, account_settings(), current_user.id, form.password.data, form.code.data
            )
        except AuthenticationError:
            flash(_("The password or the code is wrong."), "error")
            status = 401
        else:
            return render_template(
                "auth/recovery_codes.html", codes=codes, next_url=url_for("account.index")
            )
    return render_template("auth/new_recovery_codes.html", form=form), status
