"""Appeals for seniors: the open appeals they may decide (never of their own decisions), with
the statement and the first decision, and "uphold" / "reverse" (a reversal needs a reason)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from moderation.accounts.permissions import Action, permission_required
from moderation.core.db import db
from moderation.core.errors import DomainError
from moderation.outcomes import appeals

bp = Blueprint("appeals", __name__, url_prefix="/review/appeals")


@bp.get("/")
@permission_required(Action.DECIDE_APPEALS)
def index() -> str:
    rows = appeals.open_appeals(db.session, current_user.id)
    db.session.commit()
    return render_template("review/appeals.html", rows=rows)


@bp.post("/<int:appeal_id>")
@permission_required(Action.DECIDE_APPEALS)
def decide(appeal_id: int) -> Response:
    try:
        appeals.decide_appeal(
            db.session,
            appeal_id,
            current_user.user,
            request.form.get("outcome", ""),
            request.form.get("note", ""),
        )
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("Appeal %(id)s decided.", id=appeal_id), "info")
    return redirect(url_for("appeals.index"))
