"""Admin page of decision callbacks: every delivery with its attempts (status, latency, code;
never a body), filtered by state, and "redeliver" for one that failed or was disabled."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response

from models import DeliveryState, Platform
from moderation.accounts.permissions import Action, permission_required
from moderation.core.db import db
from moderation.core.ids import page_number
from moderation.outcomes import callback_admin, callbacks
from moderation.settings import settings_for

bp = Blueprint("callbacks", __name__, url_prefix="/admin/callbacks")

STATE_LABELS = {
    DeliveryState.PENDING: lazy_gettext("waiting to be sent"),
    DeliveryState.DELIVERED: lazy_gettext("delivered"),
    DeliveryState.FAILED: lazy_gettext("failed after every retry"),
    DeliveryState.DISABLED: lazy_gettext("endpoint disabled"),
}


class RedeliverForm(FlaskForm):
    pass


@bp.get("/")
@permission_required(Action.MANAGE_PLATFORMS)
def index() -> str:
    """Deliveries, newest first; `?state=failed` and so on filters."""
    state = request.args.get("state", default="", type=str)
    if state not in {str(s) for s in DeliveryState}:
        state = ""
    listing = callback_admin.deliveries_page(
        db.session, state=state or None, page=request.args.get("page", 1, type=page_number)
    )
    slugs = dict(db.session.execute(select(Platform.id, Platform.slug)).all())
    return render_template(
        "admin/callbacks.html",
        listing=listing,
        state=state,
        states=STATE_LABELS,
        slugs=slugs,
        form=RedeliverForm(),
    )


@bp.post("/<int:delivery_id>/redeliver")
@permission_required(Action.MANAGE_PLATFORMS)
def redeliver(delivery_id: int) -> Response:
    """One attempt now, whatever the schedule says (audited as the admin's)."""
    if not RedeliverForm().validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("callbacks.index"))
    result = callbacks.redeliver(
        db.session, delivery_id, current_user.id, settings_for(current_app).callbacks
    )
    if result.state == DeliveryState.DELIVERED:
        flash(_("Delivery %(id)s was accepted.", id=delivery_id), "info")
    else:
        answer = result.status_code or result.error
        flash(
            _("Delivery %(id)s was not accepted (%(answer)s).", id=delivery_id, answer=answer),
            "error",
        )
    return redirect(url_for("callbacks.index"))
