"""Media views: the blurred preview, audited reveals and the unblurred image of one's own live
reveal, the exposure heartbeat and preview preferences."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug import Response

from moderation.accounts.permissions import Action, can, permission_required
from moderation.core.db import db
from moderation.core.errors import ConflictError
from moderation.media import previews
from moderation.media.store import media_store_for
from moderation.review import item as reports
from moderation.review import reveals, wellness
from moderation.views.review import (
    bp,
    claim_minutes,
    image_response,
    media_for,
    queue_filters,
    review_settings,
    wellness_settings,
    wellness_status,
)


@bp.get("/media/<int:media_id>/preview.jpg")
@permission_required(Action.VIEW_REPORT)
def preview(media_id: int) -> Response:
    """The blurred/greyscale preview (the user's defaults) with detection boxes; never the
    original. 409 during a wellness break."""
    media = media_for(media_id, Action.VIEW_REPORT)
    if not wellness_status().images_allowed:
        raise ConflictError("you are on a break: previews are paused", code="on_break")
    options = wellness.preferences(db.session, current_user.id)
    boxes = reports.image_detections(list(media.report.signals), media.id)
    data = previews.blurred_preview(media_store_for(current_app.config), media, options, boxes)
    return image_response(data, f"preview-{media.id}.jpg")


@bp.post("/media/<int:media_id>/reveal")
@permission_required(Action.REVEAL_MEDIA)
def reveal(media_id: int) -> Response:
    """Deliberately unblur one medium (optionally a region); audited. CSRF-protected POST."""
    media = media_for(media_id, Action.REVEAL_MEDIA)
    region = previews.Region.parse({k: request.form.get(k) for k in ("x", "y", "w", "h")})
    settings = reveals.RevealSettings(
        review_settings().reveal_minutes,
        wellness_settings(),
        claim_minutes() if can(current_user, Action.DECIDE, media.report) else None,
    )
    try:
        row = reveals.reveal(db.session, media, current_user.id, region, settings)
    except ConflictError:
        flash(_("You have reached today's limit: take a break. Unblurring is paused."), "error")
        return redirect(
            url_for("review.item", report_id=media.report_id, **queue_filters().as_args())
        )
    # The unblurred image is shown for this visit only (the address names the reveal).
    return redirect(
        url_for(
            "review.item",
            report_id=media.report_id,
            reveal=row.id,
            **queue_filters().as_args(),
        )
    )


@bp.get("/reveals/<int:reveal_id>.jpg")
@permission_required(Action.REVEAL_MEDIA)
def revealed(reveal_id: int) -> Response:
    """The unblurred image of one of the caller's own live reveals, re-encoded without metadata."""
    row = reveals.live_reveal(db.session, reveal_id, current_user.id)
    media = media_for(row.media_id, Action.REVEAL_MEDIA)
    region = previews.Region.parse(row.region)
    options = wellness.preferences(db.session, current_user.id)
    data = previews.revealed_image(media_store_for(current_app.config), media, region, options)
    return image_response(data, f"reveal-{row.id}.jpg")


@bp.post("/heartbeat")
@permission_required(Action.VIEW_REPORT)
def heartbeat() -> Response:
    """Counts exposure while a revealed image is on screen (sent by static/js/review.js)."""
    status = wellness.heartbeat(db.session, current_user.id, wellness_settings())
    body: dict[str, Any] = {
        "reveals": status.reveals,
        "exposure_minutes": status.exposure_minutes,
        "on_break": status.on_break,
    }
    return jsonify(body)


@bp.route("/preferences", methods=["GET", "POST"])
@permission_required(Action.VIEW_REPORT)
def preferences() -> str | Response:
    """Preview defaults for the signed-in moderator (blur, greyscale)."""
    if request.method == "POST":
        options = previews.PreviewOptions(
            blur=request.form.get("blur") == "1", greyscale=request.form.get("greyscale") == "1"
        )
        wellness.save_preferences(db.session, current_user.id, options)
        flash(_("Preferences saved."), "info")
        return redirect(url_for("review.preferences"))
    return render_template(
        "review/preferences.html",
        prefs=wellness.preferences(db.session, current_user.id),
        wellness=wellness_status(),
    )
