"""The item page and its actions: blurred previews, audited reveals, decisions with undo, the
wellness heartbeat and preview preferences. Views parse, check permission, call a service."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from models import OPEN_STATUSES, Media, Report
from moderation.accounts.permissions import (
    Action,
    can,
    permission_required,
    require,
    visible_reports_clause,
)
from moderation.audit import events as audit
from moderation.core.db import db
from moderation.core.errors import ConflictError, NotFoundError
from moderation.core.sealing import contact_key_for
from moderation.media import previews
from moderation.media.store import media_store_for
from moderation.review import contacts, decisions, reveals, wellness
from moderation.review import item as reports
from moderation.review import queue as review
from moderation.review.queue import QueueFilters

bp = Blueprint("review", __name__, url_prefix="/review")

ACTION_LABELS = {
    "remove.ncii": _l("Remove: non-consensual intimate imagery"),
    "remove.synthetic_sexual": _l("Remove: synthetic sexual imagery"),
    "remove.doxxing": _l("Remove: doxxing"),
    "remove.harassment": _l("Remove: harassment"),
    "remove.incitement": _l("Remove: incitement"),
    "no_violation": _l("No violation"),
    "needs_context": _l("Needs more context"),
    "escalate": _l("Escalate to liaison"),
}

# Kinds of sealed contact data and their fields, as the contact page words them.
CONTACT_LABELS = {
    "portal_contact": _l("How the person asked to be reached (report portal)"),
    "mastodon_reporter": _l("The reporter's account details, as Mastodon sent them"),
    "contact": _l("Contact"),
    "email": _l("Email"),
    "ip": _l("Last IP address"),
    "ips": _l("IP addresses used"),
}


@bp.app_context_processor
def _permission_helpers() -> dict[str, Any]:
    """`may(action_name)` for templates (menus), asking the permission module."""
    return {"may": lambda action: can(current_user, Action(action))}


def _wellness_settings() -> wellness.WellnessSettings:
    return wellness.WellnessSettings.from_config(current_app.config)


def _wellness_status() -> wellness.WellnessStatus:
    return wellness.status(db.session, current_user.id, _wellness_settings())


def _filters() -> QueueFilters:
    return QueueFilters.from_args(request.values)


def _image_response(data: bytes, name: str) -> Response:
    response = Response(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _media(media_id: int, action: Action) -> Media:
    media = db.session.get(Media, media_id)
    if media is None:
        raise NotFoundError("no such media")
    require(current_user, action, media.report)
    return media


def _report(report_id: int, action: Action) -> Report:
    """The report, if the user may do `action` on it; 404 for one they may not know exists."""
    report = db.session.get(Report, report_id)
    if report is None:
        raise NotFoundError("no such report")
    require(current_user, action, report)
    return report


@bp.get("/<int:report_id>")
@permission_required(Action.VIEW_REPORT)
def item(report_id: int) -> str:
    """One report for review; opening it claims it. 404 for reports the user may not know."""
    view = reports.item_view(db.session, report_id, visible_reports_clause(current_user))
    require(current_user, Action.VIEW_REPORT, view.report)
    status = _wellness_status()
    # On a break, image items are only served when a bank match lets them be decided unseen.
    if view.has_media and not status.images_allowed and not view.bank_match:
        return render_template("review/break.html", wellness=status), 409
    holder = None
    if view.report.status in OPEN_STATUSES and can(current_user, Action.DECIDE, view.report):
        holder = review.claim(
            db.session, view.report.id, current_user.id, float(current_app.config["CLAIM_MINUTES"])
        )
    audit.record(
        db.session,
        "report.view",
        actor_user_id=current_user.id,
        object_type="report",
        object_id=view.report.id,
    )
    db.session.commit()
    filters = _filters()
    return render_template(
        "review/item.html",
        view=view,
        holder=holder,
        filters=filters,
        sla_deadline=review.sla_deadline(current_app.config, view.report),
        prefs=wellness.preferences(db.session, current_user.id),
        revealed=reveals.active_reveals(db.session, view.report.id, current_user.id),
        wellness=status,
        show_media=status.images_allowed,
        undoable=decisions.latest_undoable(db.session, current_user.id),
        taxonomy=decisions.TAXONOMY,
        labels=ACTION_LABELS,
        can_cluster=can(current_user, Action.DECIDE_CLUSTER, view.report),
        can_decide=can(current_user, Action.DECIDE, view.report),
        can_reveal=can(current_user, Action.REVEAL_MEDIA, view.report),
        pending=any(d.state == "pending" for d in view.decisions),
        contact_purposes=contacts.purposes_held(db.session, view.report.id),
        can_view_contact=can(current_user, Action.VIEW_CONTACT, view.report),
        contact_labels=CONTACT_LABELS,
    )


@bp.post("/<int:report_id>/contact")
@permission_required(Action.VIEW_CONTACT)
def contact(report_id: int) -> str:
    """Open the contact data sealed with a report; audited. A CSRF-protected POST, so the page
    that shows it has no address to come back to. 404 for reports the user may not know."""
    report = _report(report_id, Action.VIEW_CONTACT)
    key = contact_key_for(current_app.config)
    opened = contacts.open_contacts(db.session, key, report, current_user.id)
    db.session.commit()
    return render_template(
        "review/contact.html",
        report=report,
        opened=opened,
        labels=CONTACT_LABELS,
        filters=_filters(),
    )


@bp.get("/media/<int:media_id>/preview.jpg")
@permission_required(Action.VIEW_REPORT)
def preview(media_id: int) -> Response:
    """The blurred/greyscale preview (the user's defaults) with detection boxes; never the
    original. 409 during a wellness break."""
    media = _media(media_id, Action.VIEW_REPORT)
    if not _wellness_status().images_allowed:
        raise ConflictError("you are on a break: previews are paused", code="on_break")
    options = wellness.preferences(db.session, current_user.id)
    boxes = reports.image_detections(list(media.report.signals), media.id)
    data = previews.blurred_preview(media_store_for(current_app.config), media, options, boxes)
    return _image_response(data, f"preview-{media.id}.jpg")


@bp.post("/media/<int:media_id>/reveal")
@permission_required(Action.REVEAL_MEDIA)
def reveal(media_id: int) -> Response:
    """Deliberately unblur one medium (optionally a region); audited. CSRF-protected POST."""
    media = _media(media_id, Action.REVEAL_MEDIA)
    region = previews.Region.parse({k: request.form.get(k) for k in ("x", "y", "w", "h")})
    settings = reveals.RevealSettings(
        float(current_app.config["REVEAL_MINUTES"]), _wellness_settings()
    )
    try:
        reveals.reveal(db.session, media, current_user.id, region, settings)
    except ConflictError:
        flash(_("You have reached today's limit: take a break. Unblurring is paused."), "error")
    return redirect(url_for("review.item", report_id=media.report_id, **_filters().as_args()))


@bp.get("/reveals/<int:reveal_id>.jpg")
@permission_required(Action.REVEAL_MEDIA)
def revealed(reveal_id: int) -> Response:
    """The unblurred image of one of the caller's own live reveals, re-encoded without metadata."""
    row = reveals.live_reveal(db.session, reveal_id, current_user.id)
    media = _media(row.media_id, Action.REVEAL_MEDIA)
    region = previews.Region.parse(row.region)
    options = wellness.preferences(db.session, current_user.id)
    data = previews.revealed_image(media_store_for(current_app.config), media, region, options)
    return _image_response(data, f"reveal-{row.id}.jpg")


def _decision_input() -> decisions.DecisionInput:
    return decisions.DecisionInput(
        action=(request.form.get("action") or "").strip(),
        reason=(request.form.get("reason") or "").strip(),
        note=(request.form.get("note") or "").strip(),
        without_viewing=request.form.get("without_viewing") == "1",
    )


@bp.post("/<int:report_id>/decide")
@permission_required(Action.DECIDE)
def decide(report_id: int) -> Response:
    """Record a decision (pending for UNDO_SECONDS), on the report or its whole cluster.
    `next=1` goes on to the next open item."""
    report = _report(report_id, Action.DECIDE)
    choice = _decision_input()
    if choice.action == "escalate":
        require(current_user, Action.ESCALATE, report)
    config = current_app.config
    undo_seconds, claim_minutes = float(config["UNDO_SECONDS"]), float(config["CLAIM_MINUTES"])
    if request.form.get("cluster") == "1" and report.cluster_id is not None:
        require(current_user, Action.DECIDE_CLUSTER, report)
        recorded = decisions.decide_cluster(
            db.session,
            report.cluster_id,
            current_user.id,
            choice,
            undo_seconds,
            claim_minutes,
            lambda other: can(current_user, Action.DECIDE, other),
        )
        if recorded.skipped_report_ids:
            flash(
                _(
                    "%(count)d report(s) of the cluster were skipped: another moderator holds them.",  # noqa: E501
                    count=len(recorded.skipped_report_ids),
                ),
                "info",
            )
    else:
        decisions.decide(db.session, report, current_user.id, choice, undo_seconds, claim_minutes)
    filters = _filters()
    if request.form.get("next") == "1":
        return _go_next(report, filters)
    return redirect(url_for("review.item", report_id=report.id, **filters.as_args()))


def _go_next(current: Report | None, filters: QueueFilters, forward: bool = True) -> Response:
    status = _wellness_status()
    next_id = review.neighbour(
        db.session,
        current,
        current_user.id,
        visible_reports_clause(current_user),
        filters,
        forward=forward,
        images_allowed=status.images_allowed,
    )
    if next_id is None:
        if forward:
            flash(_("No more open items in this queue."), "info")
        return redirect(url_for("queue.index", **filters.as_args()))
    return redirect(url_for("review.item", report_id=next_id, **filters.as_args()))


@bp.get("/<int:report_id>/next")
@permission_required(Action.VIEW_QUEUE)
def next_item(report_id: int) -> Response:
    """The next (`dir=prev`: previous) open item in queue order after this one."""
    report = db.session.get(Report, report_id)
    return _go_next(report, _filters(), forward=request.args.get("dir") != "prev")


@bp.get("/start")
@permission_required(Action.VIEW_QUEUE)
def start() -> Response:
    """The first open item of the (filtered) queue."""
    return _go_next(None, _filters())


@bp.post("/undo/<batch_id>")
@permission_required(Action.DECIDE)
def undo(batch_id: str) -> Response:
    """Undo our decision batch while its window is open; 409 once it is final."""
    report_ids = decisions.undo(db.session, batch_id[:36], current_user.id)
    flash(_("Decision undone."), "info")
    return redirect(url_for("review.item", report_id=report_ids[0], **_filters().as_args()))


@bp.post("/heartbeat")
@permission_required(Action.VIEW_REPORT)
def heartbeat() -> Response:
    """Counts exposure while a revealed image is on screen (sent by static/js/review.js)."""
    status = wellness.heartbeat(db.session, current_user.id, _wellness_settings())
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
        wellness=_wellness_status(),
    )
