"""Sign-in pages: password, then a TOTP or recovery code (or enrolment for an account without a
second factor), sign-out, and the one-time invitation page. Throttled per address and account."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from moderation.accounts import invitations, signin, totp
from moderation.accounts.permissions import Action, can
from moderation.accounts.users import get_user, sign_out
from moderation.core.db import db
from moderation.core.device_cookies import BrowserDevice, Device
from moderation.core.errors import AuthenticationError, ValidationError
from moderation.core.limits import limiter
from moderation.core.redis_conn import get_redis
from moderation.notifications import account_mail, outbox
from moderation.settings import settings_for
from moderation.views.account import password_problem
from moderation.views.session import account_settings, start_browser_session

bp = Blueprint("auth", __name__)

_PENDING = "auth_pending"
_PENDING_SECONDS = 600
# Sent only to the sign-in pages (path /login covers /login/verify and /login/enrol).
_DEVICE_COOKIE = "device"
_DEVICE_PURPOSE = "sign-in"


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=32)])


class InvitationForm(FlaskForm):
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField("Confirm", validators=[DataRequired(), EqualTo("password")])
    code = StringField("Code", validators=[DataRequired(), Length(max=32)])


class LogoutForm(FlaskForm):
    pass


def _next_path() -> str | None:
    """The `next` parameter if it is a same-site relative path, else None: an open redirect
    after sign-in is a phishing aid."""
    target = request.args.get("next")
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
        and "\\" not in target
    ):
        return target
    return None


def _safe_next() -> str:
    return _next_path() or url_for("queue.index")


def _failed(response: Response) -> bool:
    # Only failures count: people who sign in correctly are never locked out by the throttle.
    return response.status_code >= 400


def _address_limit() -> str:
    return str(current_app.config["LOGIN_LIMIT_PER_ADDRESS"])


def _account_limit() -> str:
    return str(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"])


def _email_subject(email: str) -> str:
    return "email:" + account_settings().email_digest(email)[:32]


_DEVICE = BrowserDevice(_DEVICE_COOKIE, _DEVICE_PURPOSE, "auth.login")


def _device() -> Device | None:
    """This browser's device cookie, if it carries a valid one."""
    return _DEVICE.read(account_settings().digest_key)


def _account_key() -> str:
    """The throttle key of the account being tried: a keyed digest of the email on the password
    step, the pending user id on the code steps (never the email itself in Redis). A browser
    whose device cookie shows it signed in to that account before gets a key of its own, so
    strangers' failures cannot lock the owner out (finding 15)."""
    pending = session.get(_PENDING)
    if request.endpoint != "auth.login" and isinstance(pending, dict):
        subject = f"account:{pending.get('uid')}"
    else:
        subject = _email_subject(request.form.get("email") or "")
    return _DEVICE.throttle_key(account_settings().digest_key, subject)


def _remember_device(user: Any) -> None:
    """Give this browser (after a successful sign-in) a device cookie for `user`'s account."""
    _DEVICE.remember(
        account_settings().digest_key, (_email_subject(user.email), f"account:{user.id}")
    )


def _too_many() -> str:
    return _("Too many sign-in attempts. Wait a while and try again.")


def _throttled(view: Any) -> Any:
    per_address = limiter.limit(
        _address_limit, methods=["POST"], deduct_when=_failed, error_message=_too_many
    )
    per_account = limiter.limit(
        _account_limit,
        key_func=_account_key,
        methods=["POST"],
        deduct_when=_failed,
        error_message=_too_many,
    )
    return per_address(per_account(view))


def _pending_user_id() -> int | None:
    pending = session.get(_PENDING)
    if (
        not isinstance(pending, dict)
        or time.time() - float(pending.get("at", 0)) > _PENDING_SECONDS
    ):
        return None
    return int(pending["uid"])


def _finish(signed_in: signin.SignIn) -> None:
    session.pop(_PENDING, None)
    device = _device()
    start_browser_session(signed_in.user, signed_in.session_token)
    _remember_device(signed_in.user)
    if account_mail.is_new_device(device.subjects if device else None, signed_in.user.id):
        # The owner hears of a sign-in from a browser new to the account (after the commit).
        settings = settings_for(current_app).notifications
        mail_id = account_mail.notify_new_device(db.session, settings, signed_in.user.id)
        outbox.send_soon(get_redis(), settings, mail_id)


@bp.app_context_processor
def _permission_helpers() -> dict[str, Any]:
    return {"can": lambda action, obj=None: can(current_user, action, obj), "Action": Action}


@bp.route("/login", methods=["GET", "POST"])
@_throttled
def login() -> str | Response | tuple[str, int]:
    """Password step. 401 for a wrong email or password, 429 after too many failures."""
    if current_user.is_authenticated:
        return redirect(url_for("queue.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = signin.check_password(
                db.session, account_settings(), form.email.data, form.password.data
            )
        except AuthenticationError:
            flash(_("The email or password is wrong."), "error")
            return render_template("auth/login.html", form=form), 401
        session[_PENDING] = {"uid": user.id, "at": time.time()}
        step = "auth.verify" if user.totp_enabled else "auth.enrol"
        return redirect(url_for(step, next=_next_path()))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/login/verify", methods=["GET", "POST"])
@_throttled
def verify() -> str | Response | tuple[str, int]:
    """Second step: a TOTP or recovery code. Without a fresh password step: back to sign-in."""
    user_id = _pending_user_id()
    if user_id is None:
        return redirect(url_for("auth.login"))
    if not get_user(db.session, user_id).totp_enabled:
        return redirect(url_for("auth.enrol", next=_next_path()))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            signed_in = signin.complete_with_code(
                db.session, account_settings(), user_id, form.code.data
            )
        except AuthenticationError:
            flash(_("That code is wrong or was already used."), "error")
            return render_template("auth/verify.html", form=form), 401
        _finish(signed_in)
        return redirect(_safe_next())
    status = 400 if request.method == "POST" else 200
    return render_template("auth/verify.html", form=form), status


@bp.route("/login/enrol", methods=["GET", "POST"])
@_throttled
def enrol() -> str | Response | tuple[str, int]:
    """Forced enrolment for an account that has no second factor yet."""
    user_id = _pending_user_id()
    if user_id is None:
        return redirect(url_for("auth.login"))
    user = get_user(db.session, user_id)
    if user.totp_enabled:
        return redirect(url_for("auth.verify", next=_next_path()))
    signin.enrolment_secret(
        db.session, account_settings(), user
    )  # creates the pending secret on first visit
    form = CodeForm()
    status = 400 if request.method == "POST" else 200
    if form.validate_on_submit():
        try:
            signed_in = signin.complete_with_enrolment(
                db.session, account_settings(), user_id, form.code.data
            )
        except AuthenticationError:
            flash(_("That code is wrong. Check that your phone's clock is right."), "error")
            status = 401
        else:
            _finish(signed_in)
            return render_template(
                "auth/recovery_codes.html",
                codes=signed_in.recovery_codes,
                next_url=_safe_next(),
            )
    return render_template("auth/enrol.html", form=form, **_qr(user)), status


def _qr(user: Any) -> dict[str, str]:
    totp_config = account_settings().totp_config
    uri = totp.provisioning_uri(totp_config, user)
    secret = totp.open_secret(totp_config, user)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return {"qr": totp.qr_data_uri(uri), "secret": grouped}


def invitation_url(token: str) -> str:
    """The one-time link for an invitation or a sign-in reset. The token rides in the fragment,
    which browsers never send: it stays out of every access log, proxy log and Referer on the
    way in. static/js/invite.js posts it; without script, the page asks for it."""
    return url_for("auth.accept_invitation", _external=True) + "#" + token


@bp.route("/invite", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"], deduct_when=_failed, error_message=_too_many)
def accept_invitation() -> str | Response | tuple[str, int]:
    """One-time link: choose a password and enrol TOTP. GET is a page that takes the code from
    the link's fragment; the code only ever arrives in a POST body. 404 for an unknown, used
    or expired code (one answer for all)."""
    if request.method == "GET":
        return render_template("auth/invitation_code.html")
    token = (request.form.get("token") or "").strip()[:200]
    if current_user.is_authenticated:
        sign_out(db.session, current_user.token, current_user.id)
        logout_user()
    user, _secret = invitations.enrolment_secret(db.session, account_settings(), token)
    form = InvitationForm()
    opening = "password" not in request.form  # the first POST, from the code page
    status = 200 if opening else 400
    if not opening and form.validate_on_submit():
        try:
            signed_in = invitations.accept(
                db.session, account_settings(), token, form.password.data, form.code.data
            )
        except ValidationError as error:
            flash(password_problem(error), "error")
            status = 422
        except AuthenticationError:
            flash(_("That code is wrong. Check that your phone's clock is right."), "error")
            status = 401
        else:
            _finish(signed_in)
            return render_template(
                "auth/recovery_codes.html",
                codes=signed_in.recovery_codes,
                next_url=url_for("queue.index"),
            )
    page = render_template(
        "auth/invitation.html", form=form, email=user.email, token=token, **_qr(user)
    )
    return page, status


@bp.post("/logout")
@login_required
def logout() -> Response:
    if LogoutForm().validate_on_submit():
        sign_out(db.session, current_user.token, current_user.id)
        logout_user()
    return redirect(url_for("auth.login"))
