"""The item page (one service call), claims (start, release, take over) and sealed contact
details."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug import Response

from moderation.accounts.permissions import Action, permission_required, require
from moderation.core.db import db
from moderation.core.ids import database_id
from moderation.core.sealing import contact_key_for
from moderation.review import claims, contacts, decisions, pages
from moderation.views.review import (
    ACTION_LABELS,
    CONTACT_LABELS,
    bp,
    claim_minutes,
    queue_filters,
    report_for,
    review_settings,
    wellness_settings,
)


@bp.get("/<int:report_id>")
@permission_required(Action.VIEW_REPORT)
def item(report_id: int) -> tuple[str, int] | str:
    """One report for review. Opening it claims nothing. 404 for reports the user may not
    know; 409 (a break page) for image items during a wellness break."""
    shown = request.args.getlist("reveal", type=database_id)
    page = pages.open_item(
        db.session, report_id, current_user, review_settings(), wellness_settings(), shown
    )
    if page.on_break_for_this_item:
        return render_template("review/break.html", wellness=page.wellness), 409
    return render_template(
        "review/item.html",
        page=page,
        view=page.view,
        filters=queue_filters(),
        taxonomy=decisions.TAXONOMY,
        labels=ACTION_LABELS,
        contact_labels=CONTACT_LABELS,
    )


def _back(report_id: int) -> Response:
    return redirect(url_for("review.item", report_id=report_id, **queue_filters().as_args()))


@bp.post("/<int:report_id>/claim")
@permission_required(Action.DECIDE)
def claim(report_id: int) -> Response:
    """Start reviewing: hold the report so no one else decides it meanwhile."""
    report = report_for(report_id, Action.DECIDE)
    result = claims.hold(db.session, report.id, current_user.id, claim_minutes())
    if not result.acquired:
        flash(_("Another moderator is reviewing this report."), "info")
    return _back(report.id)


@bp.post("/<int:report_id>/release")
@permission_required(Action.VIEW_REPORT)
def release(report_id: int) -> Response | tuple[str, int]:
    """Give the report back to the queue (the release key, or leaving the page: the browser
    sends `beacon=1` and needs no page back)."""
    report = report_for(report_id, Action.VIEW_REPORT)
    claims.release(db.session, report.id, current_user.id)
    if request.form.get("beacon") == "1":
        return "", 204
    return _back(report.id)


@bp.post("/<int:report_id>/take-over")
@permission_required(Action.TAKE_OVER_CLAIM)
def take_over(report_id: int) -> Response:
    """A senior takes over a claim someone else holds; audited."""
    report = report_for(report_id, Action.TAKE_OVER_CLAIM)
    require(current_user, Action.DECIDE, report)
    claims.take_over(db.session, report.id, current_user.id, claim_minutes())
    flash(_("You now hold this report."), "info")
    return _back(report.id)


@bp.post("/<int:report_id>/contact")
@permission_required(Action.VIEW_CONTACT)
def contact(report_id: int) -> str:
    """Open the contact data sealed with a report; audited. A CSRF-protected POST, so the page
    that shows it has no address to come back to. 404 for reports the user may not know."""
    report = report_for(report_id, Action.VIEW_CONTACT)
    key = contact_key_for(current_app.config)
    opened = contacts.open_contacts(db.session, key, report, current_user.id)
    return render_template(
        "review/contact.html",
        report=report,
        opened=opened,
        labels=CONTACT_LABELS,
        filters=queue_filters(),
    )
