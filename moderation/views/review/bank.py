"""Adding a report's media to a hash bank from the item page (seniors and admins)."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug import Response

from moderation.accounts.permissions import Action, permission_required
from moderation.core.db import db
from moderation.core.errors import ValidationError
from moderation.outcomes.banking import bank_report
from moderation.views.review import bp, report_for


@bp.post("/<int:report_id>/bank")
@permission_required(Action.ADD_TO_BANK)
def add_to_bank(report_id: int) -> Response:
    report = report_for(report_id, Action.ADD_TO_BANK)
    try:
        added = bank_report(
            db.session, report, request.form.get("bank", "confirmed"), current_user.id
        )
    except ValidationError as error:
        flash(error.message, "error")
    else:
        flash(_("%(n)d hashes added to the bank.", n=len(added)), "info")
    return redirect(url_for("review.item", report_id=report_id))
