"""/protect: register photos without uploading them (Korean and English, no account).

The page's script hashes the chosen photos in the browser; the form posts only the hashes
(the file input has no name, so no browser sends the files). The case number and PIN are
shown once through the portal's receipt handoff. With them, /protect/case shows counts and
dates of matches, takes more photos and withdraws everything.

Rate limits: registrations per address (RATE_LIMIT_PROTECT_REGISTER); case look-ups per
address (RATE_LIMIT_PROTECT_CASE_ADDRESS) and wrong PINs per case number
(RATE_LIMIT_PROTECT_CASE; a browser that proved the case has its own budget, as on the
portal); additions per case (RATE_LIMIT_PROTECT_ADD).
"""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, RadioField, SelectChoice, StringField
from wtforms.validators import DataRequired, Length

from models import Category
from moderation.core.db import db
from moderation.core.device_cookies import BrowserDevice
from moderation.core.errors import ValidationError
from moderation.core.limits import limiter
from moderation.core.redis_conn import get_redis
from moderation.core.sealing import contact_key_for
from moderation.core.tokens import keyed_digest
from moderation.intake import receipt_handoff
from moderation.intake.portal import normalise_receipt_number
from moderation.protect import registration as protect

bp = Blueprint("protect", __name__, url_prefix="/protect")

CATEGORY_LABELS = [
    (Category.NCII, lazy_gettext("Intimate photos or videos I fear will be shared")),
    (
        Category.SYNTHETIC_SEXUAL,
        lazy_gettext("Everyday photos of me that could be used for fake sexual images"),
    ),
    (Category.OTHER, lazy_gettext("Other photos of me I do not want posted")),
]
_ERROR_WORDS = {
    "consent_required": lazy_gettext("Please confirm that these are photos of you."),
    "unknown_category": lazy_gettext("Please choose what the photos are."),
    "no_images": lazy_gettext("Please choose at least one photo."),
    "too_many_images": lazy_gettext("That is more photos than one registration can hold."),
    "flat_image": lazy_gettext(
        "A photo is too plain (almost one colour) to be recognised. Please remove it."
    ),
    "bad_hashes": lazy_gettext("Something went wrong while reading the photos. Please retry."),
    "withdrawn": lazy_gettext("This registration was withdrawn. Please start a new one."),
}
_RECEIPT_SESSION_KEY = "protect_receipt"
_CASE_SESSION_KEY = "protect_case"
# How long an opened case stays open in this browser without giving the PIN again.
CASE_OPEN_SECONDS = 15 * 60
_DEVICE_COOKIE = "protect_device"
_DEVICE_PURPOSE = "protect-case"


class RegisterForm(FlaskForm):
    hashes = HiddenField()
    category = RadioField(
        lazy_gettext("What are these photos?"),
        choices=[SelectChoice(code, label) for code, label in CATEGORY_LABELS],
        validators=[DataRequired(message=lazy_gettext("Please choose what the photos are."))],
    )
    consent = BooleanField(
        lazy_gettext(
            "These are photos of me (or of someone I am helping, with their agreement), and I "
            "agree that their hashes are kept and compared with reported content."
        )
    )
    contact = StringField(
        lazy_gettext("Email, if you want us to be able to reach you (optional)"),
        [Length(max=500)],
    )


class AddForm(FlaskForm):
    hashes = HiddenField()


class CaseForm(FlaskForm):
    case = StringField(lazy_gettext("Case number"), [DataRequired(), Length(max=40)])
    pin = PasswordField(lazy_gettext("PIN"), [DataRequired(), Length(max=20)])


class WithdrawForm(FlaskForm):
    confirm = BooleanField(
        lazy_gettext("Yes, withdraw all my photos' hashes. This cannot be undone.")
    )


def _settings() -> protect.ProtectSettings:
    config = current_app.config
    return protect.ProtectSettings(
        bank_name=str(config["PROTECT_BANK_NAME"]),
        max_images=int(config["PROTECT_MAX_IMAGES"]),
        contact_key=contact_key_for(config),
    )


def _too_many() -> str:
    return gettext("Too many attempts from here. Please wait a while and try again.")


def _error(exc: ValidationError) -> str:
    return str(_ERROR_WORDS.get(exc.code, gettext("Please check the form and try again.")))


def _case_subject(number: str | None) -> str:
    # A keyed digest: the case number is half a credential, so neither Redis nor the device
    # cookie holds it.
    if not number:
        return "case:invalid"
    return "case:" + keyed_digest(current_app.config["SECRET_KEY"], number)[:32]


_DEVICE = BrowserDevice(_DEVICE_COOKIE, _DEVICE_PURPOSE, "protect.open_case")


def _case_key() -> str:
    """The case being tried; a browser that proved it knows the case gets its own budget."""
    subject = _case_subject(normalise_receipt_number(request.form.get("case")))
    return _DEVICE.throttle_key(current_app.config["SECRET_KEY"], subject)


def _wrong_pin(response: Response) -> bool:
    return response.status_code == 404


def _remember_case(number: str) -> None:
    _DEVICE.remember(current_app.config["SECRET_KEY"], (_case_subject(number),))


def _open_registration() -> int | None:
    """The registration this browser opened with its number and PIN in the last minutes."""
    held = session.get(_CASE_SESSION_KEY)
    if not isinstance(held, dict):
        return None
    registration_id, opened_at = held.get("id"), held.get("at")
    if not isinstance(registration_id, int) or not isinstance(opened_at, int | float):
        return None
    if time.time() - opened_at > CASE_OPEN_SECONDS:
        session.pop(_CASE_SESSION_KEY, None)
        return None
    return registration_id


def _added_key() -> str:
    return f"protect-add:{_open_registration() or 'none'}"


@bp.route("", methods=["GET", "POST"])
@limiter.limit(
    lambda: str(current_app.config["RATE_LIMIT_PROTECT_REGISTER"]),
    methods=["POST"],
    scope="protect-register",
    error_message=_too_many,
)
def index() -> ResponseReturnValue:
    """The registration page; on success, shows the case number and PIN once (PRG)."""
    form = RegisterForm()
    error = None
    if form.validate_on_submit():
        settings = _settings()
        try:
            submission = protect.Submission(
                images=protect.parse_images(form.hashes.data),
                category=form.category.data or "",
                consent=bool(form.consent.data),
                contact=form.contact.data,
            )
            receipt = protect.register(db.session, submission, settings)
        except ValidationError as exc:
            error = _error(exc)
        else:
            session[_RECEIPT_SESSION_KEY] = receipt_handoff.hand_over(
                get_redis(), current_app.config["SECRET_KEY"], receipt.number, receipt.pin
            )
            return redirect(url_for("protect.registered"))
    elif request.method == "POST":
        error = gettext("Please check the form and try again.")
    status = 422 if request.method == "POST" else 200
    return render_template(
        "protect/index.html", form=form, error=error, max_images=_settings().max_images
    ), status


@bp.get("/registered")
def registered() -> ResponseReturnValue:
    """Shows the case number and PIN once, then forgets them."""
    shown = receipt_handoff.take(
        get_redis(), current_app.config["SECRET_KEY"], session.pop(_RECEIPT_SESSION_KEY, None)
    )
    if not shown:
        return redirect(url_for("protect.index"))
    number, pin = shown
    _remember_case(number)
    return render_template("protect/registered.html", number=number, pin=pin)


@bp.route("/case", methods=["GET", "POST"])
@limiter.limit(
    lambda: str(current_app.config["RATE_LIMIT_PROTECT_CASE_ADDRESS"]),
    methods=["POST"],
    scope="protect-case-address",
    error_message=_too_many,
)
@limiter.limit(
    lambda: str(current_app.config["RATE_LIMIT_PROTECT_CASE"]),
    methods=["POST"],
    key_func=_case_key,
    scope="protect-case",
    deduct_when=_wrong_pin,
    error_message=_too_many,
)
def open_case() -> ResponseReturnValue:
    """Open a case with its number and PIN; the case page is then shown for a few minutes."""
    form = CaseForm()
    error = None
    if form.validate_on_submit():
        try:
            registration = protect.open_case(db.session, form.case.data, form.pin.data)
        except protect.CaseNotFound:
            error = gettext("We could not find a registration with that case number and PIN.")
        else:
            session[_CASE_SESSION_KEY] = {"id": registration.id, "at": int(time.time())}
            _remember_case(registration.number)
            return redirect(url_for("protect.case"))
    code = 404 if error else (422 if request.method == "POST" else 200)
    return render_template("protect/open.html", form=form, error=error), code


@bp.get("/case/view")
def case() -> ResponseReturnValue:
    """Counts and dates of matches, the add form and the withdraw form of the open case."""
    registration_id = _open_registration()
    if registration_id is None:
        return redirect(url_for("protect.open_case"))
    try:
        view = protect.case_view(db.session, registration_id, _settings())
    except protect.CaseNotFound:
        session.pop(_CASE_SESSION_KEY, None)
        return redirect(url_for("protect.open_case"))
    return render_template(
        "protect/case.html",
        view=view,
        add_form=AddForm(),
        withdraw_form=WithdrawForm(),
        message=request.args.get("done"),
    )


@bp.post("/case/add")
@limiter.limit(
    lambda: str(current_app.config["RATE_LIMIT_PROTECT_ADD"]),
    key_func=_added_key,
    scope="protect-add",
    error_message=_too_many,
)
def add() -> ResponseReturnValue:
    """More photos' hashes for the open case."""
    registration_id = _open_registration()
    if registration_id is None:
        return redirect(url_for("protect.open_case"))
    form = AddForm()
    error = None
    if form.validate_on_submit():
        try:
            protect.add_images(
                db.session, registration_id, protect.parse_images(form.hashes.data), _settings()
            )
        except ValidationError as exc:
            error = _error(exc)
        else:
            return redirect(url_for("protect.case", done="added"))
    else:
        error = gettext("Please check the form and try again.")
    view = protect.case_view(db.session, registration_id, _settings())
    return render_template(
        "protect/case.html",
        view=view,
        add_form=form,
        withdraw_form=WithdrawForm(),
        error=error,
    ), 422


@bp.post("/case/withdraw")
def withdraw() -> ResponseReturnValue:
    """Withdraw every hash of the open case: they stop matching at once."""
    registration_id = _open_registration()
    if registration_id is None:
        return redirect(url_for("protect.open_case"))
    form = WithdrawForm()
    if not (form.validate_on_submit() and form.confirm.data):
        view = protect.case_view(db.session, registration_id, _settings())
        error = gettext("Please tick the box to confirm.")
        return render_template(
            "protect/case.html", view=view, add_form=AddForm(), withdraw_form=form, error=error
        ), 422
    protect.withdraw(db.session, registration_id)
    return redirect(url_for("protect.case", done="withdrawn"))
