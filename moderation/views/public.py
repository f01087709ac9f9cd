"""The public report portal: no login, no JavaScript, Korean and English.

A person reports content about themselves (or a support organisation on their behalf), gets a
receipt number and PIN, and can later check a plain-words status. Forms are CSRF-protected;
submissions and status checks are rate-limited (RATE_LIMIT_PUBLIC_REPORT per address;
RATE_LIMIT_RECEIPT_CHECK_ADDRESS per address and RATE_LIMIT_RECEIPT_CHECK wrong PINs per receipt
number). The browser that filed a report, or once gave its right PIN, carries a device cookie for
it and has its own per-receipt budget, so wrong PINs from strangers cannot lock the victim out.
"""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, gettext, lazy_gettext
from flask_wtf import FlaskForm
from wtforms import (
    MultipleFileField,
    PasswordField,
    RadioField,
    SelectChoice,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length

from models import Category, Report
from moderation.core.db import db
from moderation.core.device_cookies import BrowserDevice
from moderation.core.errors import ValidationError
from moderation.core.limits import limiter
from moderation.core.redis_conn import get_redis
from moderation.core.tokens import keyed_digest
from moderation.intake import portal as victim_reports
from moderation.intake import receipt_handoff
from moderation.intake.reporter_view import add_information as reporter_add_information
from moderation.intake.reporter_view import reporter_stage
from moderation.media.store import media_store_for
from moderation.review.finalize import finalize_due
from moderation.settings import settings_for

bp = Blueprint("public", __name__, url_prefix="/portal")

# What it is, in plain words; the codes are the API's categories.
CATEGORY_LABELS = [
    (Category.NCII, lazy_gettext("Intimate pictures or videos of me shared without my consent")),
    (Category.SYNTHETIC_SEXUAL, lazy_gettext("Fake sexual pictures or videos made with my face")),
    (Category.SEXUAL_HARASSMENT, lazy_gettext("Sexual comments or harassment about me")),
    (Category.DOXXING, lazy_gettext("My personal details (name, address, school, work) posted")),
    (Category.INCITEMENT, lazy_gettext("People being encouraged to find or hurt me")),
    (Category.CSAM_SUSPECTED, lazy_gettext("Sexual content of someone under 18")),
    (Category.OTHER, lazy_gettext("Something else")),
]
CATEGORY_CHOICES = [SelectChoice(code, label) for code, label in CATEGORY_LABELS]
# Each stage as the reporter reads it (moderation/intake/reporter_view.py says when each holds).
STATUS_WORDS = {
    "received": lazy_gettext("We have your report. We are checking what it contains."),
    "waiting": lazy_gettext("We have your report. It is waiting for a person on our team."),
    "in_review": lazy_gettext("A person on our team is looking at your report."),
    "removed": lazy_gettext(
        "We found that it breaks the rules, and the platform was told to remove it."
    ),
    "no_violation": lazy_gettext(
        "We looked at it carefully and did not find that it breaks the rules."
    ),
    "escalated": lazy_gettext("We passed your report to our team that works with the police."),
    "reviewed_again": lazy_gettext("We reviewed our decision again and changed it."),
}
_VERIFIED_KEY = "portal_verified"
_VERIFIED_SECONDS = 900
_RECEIPT_SESSION_KEY = "portal_receipt"


class ReportForm(FlaskForm):
    category = RadioField(
        lazy_gettext("What is it?"),
        choices=CATEGORY_CHOICES,
        validators=[DataRequired(message=lazy_gettext("Please choose what it is."))],
    )
    links = TextAreaField(lazy_gettext("Links to where it is posted (one per line)"))
    files = MultipleFileField(lazy_gettext("Pictures or videos (optional)"))
    description = TextAreaField(
        lazy_gettext("Anything else you want us to know (optional)"), [Length(max=5000)]
    )
    contact = StringField(
        lazy_gettext("How can we reach you? Email or phone (optional)"), [Length(max=500)]
    )


class AddInformationForm(FlaskForm):
    pass


class StatusForm(FlaskForm):
    receipt = StringField(lazy_gettext("Receipt number"), [DataRequired(), Length(max=40)])
    pin = PasswordField(lazy_gettext("PIN"), [DataRequired(), Length(max=20)])


_DEVICE_COOKIE = "portal_device"
_DEVICE_PURPOSE = "portal-receipt"


def _receipt_subject(number: str | None) -> str:
    # A keyed digest: the receipt number is half a credential, so neither Redis nor the device
    # cookie holds it.
    if not number:
        return "receipt:invalid"
    return "receipt:" + keyed_digest(current_app.config["SECRET_KEY"], number)[:32]


_DEVICE = BrowserDevice(_DEVICE_COOKIE, _DEVICE_PURPOSE, "public.status")


def _receipt_key() -> str:
    """The receipt being tried; a browser that proved it owns the receipt gets its own key."""
    subject = _receipt_subject(victim_reports.normalise_receipt_number(request.form.get("receipt")))
    return _DEVICE.throttle_key(current_app.config["SECRET_KEY"], subject)


def _wrong_pin(response: Response) -> bool:
    # Only a wrong PIN or unknown number spends the receipt's budget; checking often does not.
    return response.status_code == 404


def _remember_receipt(number: str) -> None:
    """Give this browser a device cookie for the receipt `number` (it filed it, or knew its PIN)."""
    _DEVICE.remember(current_app.config["SECRET_KEY"], (_receipt_subject(number),))


def _too_many() -> str:
    return gettext("Too many attempts from here. Please wait a while and try again.")


def _settings() -> victim_reports.PortalSettings:
    return settings_for(current_app).portal


_ERROR_WORDS = {
    "unknown_category": lazy_gettext("Please choose what it is."),
    "missing_content": lazy_gettext("Please add at least one link or one file."),
    "invalid_url": lazy_gettext("Each link must start with http:// or https://."),
    "too_many_links": lazy_gettext("That is more links than we can take at once."),
    "too_many_media": lazy_gettext("That is more files than we can take at once."),
    "media_too_large": lazy_gettext("One of the files is too large."),
    "unsupported_media": lazy_gettext("Files must be pictures or videos."),
}


@bp.route("/report", methods=["GET", "POST"])
@limiter.limit(
    lambda: str(current_app.config["RATE_LIMIT_PUBLIC_REPORT"]),
    methods=["POST"],
    scope="portal-report",
    error_message=_too_many,
)
def report() -> ResponseReturnValue:
    """The report form; on success, stores the report and shows the receipt once (PRG)."""
    form = ReportForm()
    error = None
    if form.validate_on_submit():
        settings = _settings()
        submission = victim_reports.PortalSubmission(
            category=form.category.data or "",
            links=tuple(
                line.strip() for line in (form.links.data or "").splitlines() if line.strip()
            ),
            uploads=tuple(
                victim_reports.Upload(item.filename, item.read())
                for item in request.files.getlist(form.files.name)
                if item and item.filename
            ),
            description=form.description.data,
            contact=form.contact.data,
        )
        try:
            receipt = victim_reports.file_report(
                db.session, media_store_for(current_app.config), get_redis(), submission, settings
            )
        except ValidationError as exc:
            error = _ERROR_WORDS.get(exc.code, gettext("Please check the form and try again."))
        else:
            # Only a one-time token in the (readable) cookie; the receipt stays server-side.
            session[_RECEIPT_SESSION_KEY] = receipt_handoff.hand_over(
                get_redis(), current_app.config["SECRET_KEY"], receipt.number, receipt.pin
            )
            return redirect(url_for("public.receipt"))
    status = 422 if request.method == "POST" else 200
    return render_template("public/report.html", form=form, error=error), status


@bp.get("/report/received")
def receipt() -> ResponseReturnValue:
    """Shows the receipt number and PIN once, then forgets them."""
    shown = receipt_handoff.take(
        get_redis(), current_app.config["SECRET_KEY"], session.pop(_RECEIPT_SESSION_KEY, None)
    )
    if not shown:
        return redirect(url_for("public.report"))
    number, pin = shown
    _remember_receipt(number)
    return render_template("public/receipt.html", number=number, pin=pin, help_lines=help_lines())


@bp.route("/status", methods=["GET", "POST"])
@limiter.limit(
    lambda: str(current_app.config["RATE_LIMIT_RECEIPT_CHECK_ADDRESS"]),
    methods=["POST"],
    scope="portal-status-address",
    error_message=_too_many,
)
@limiter.limit(
    lambda: str(current_app.config["RATE_LIMIT_RECEIPT_CHECK"]),
    methods=["POST"],
    key_func=_receipt_key,
    scope="portal-status-receipt",
    deduct_when=_wrong_pin,
    error_message=_too_many,
)
def status() -> ResponseReturnValue:
    """Check a report's status with its receipt number and PIN; nothing else is shown."""
    form = StatusForm()
    words, error, stage = None, None, None
    if form.validate_on_submit():
        try:
            report = victim_reports.verify_receipt(db.session, form.receipt.data, form.pin.data)
        except victim_reports.ReceiptNotFound:
            error = gettext("We could not find a report with that receipt number and PIN.")
        else:
            finalize_due(db.session, [report.id])  # a decision past its undo window is the answer
            stage = reporter_stage(db.session, db.session.get(Report, report.id))
            db.session.commit()
            words = STATUS_WORDS[stage]
            _remember_receipt(victim_reports.normalise_receipt_number(form.receipt.data) or "")
            # Proof, for a few minutes, that this browser gave the right PIN: it may add to it.
            session[_VERIFIED_KEY] = {"report_id": report.id, "at": time.time()}
    code = 404 if error else (422 if request.method == "POST" and words is None else 200)
    page = render_template(
        "public/status.html",
        form=form,
        words=words,
        error=error,
        stage=stage,
        help_lines=help_lines(),
        may_add=stage is not None,
    )
    return page, code


def help_lines() -> list[dict[str, str]]:
    """Where to get help, in the reader's language (config PORTAL_HELP)."""
    table = current_app.config.get("PORTAL_HELP") or {}
    language = "ko" if str(get_locale()) == "ko" else "en"
    return list(table.get(language) or table.get("en") or [])


@bp.post("/status/add")
@limiter.limit(
    lambda: str(current_app.config["RATE_LIMIT_RECEIPT_CHECK_ADDRESS"]),
    scope="portal-add-information",
    error_message=_too_many,
)
def add_information() -> ResponseReturnValue:
    """Add to one's report, right after checking it with the receipt number and PIN."""
    verified = session.get(_VERIFIED_KEY)
    if (
        not AddInformationForm().validate_on_submit()
        or not isinstance(verified, dict)
        or time.time() - float(verified.get("at", 0)) > _VERIFIED_SECONDS
    ):
        flash(gettext("Please enter your receipt number and PIN again first."), "error")
        return redirect(url_for("public.status"))
    try:
        reporter_add_information(
            db.session, int(verified["report_id"]), request.form.get("text", "")
        )
    except ValidationError:
        flash(gettext("Please write up to 2,000 characters."), "error")
        return redirect(url_for("public.status"))
    flash(gettext("Thank you. We added this to your report."), "info")
    return redirect(url_for("public.status"))
