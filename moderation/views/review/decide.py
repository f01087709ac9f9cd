"""Decisions with undo, and moving through the queue (start, next, previous)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug import Response

from models import Report
from moderation.accounts.permissions import (
    Action,
    can,
    permission_required,
    require,
    visible_reports_clause,
)
from moderation.core.db import db
from moderation.core.errors import ValidationError
from moderation.review import claims, decisions, pages
from moderation.review import queue as review
from moderation.review.queue import QueueFilters
from moderation.views.review import (
    ACTION_LABELS,
    CONTACT_LABELS,
    bp,
    claim_minutes,
    queue_filters,
    report_for,
    review_settings,
    wellness_settings,
    wellness_status,
)


def _decision_input() -> decisions.DecisionInput:
    return decisions.DecisionInput(
        action=(request.form.get("action") or "").strip(),
        reason=(request.form.get("reason") or "").strip(),
        note=(request.form.get("note") or "").strip(),
        without_viewing=request.form.get("without_viewing") == "1",
    )


@bp.post("/<int:report_id>/decide")
@permission_required(Action.DECIDE)
def decide(report_id: int) -> Response | tuple[str, int]:
    """Record a decision (pending for UNDO_SECONDS), on the report or its whole cluster.
    `next=1` goes on to the next open item."""
    report = report_for(report_id, Action.DECIDE)
    choice = _decision_input()
    if choice.action == "escalate":
        require(current_user, Action.ESCALATE, report)
    try:
        _record(report, choice)
    except ValidationError as exc:
        # Back to the item with what was typed, and why it cannot be recorded that way: never
        # a bare error page that loses the reason and the note.
        return _form_again(report.id, choice, str(exc)), 422
    filters = queue_filters()
    if request.form.get("next") == "1":
        return _go_next(report, filters, hold=True)
    return redirect(url_for("review.item", report_id=report.id, **filters.as_args()))


def _form_again(report_id: int, choice: decisions.DecisionInput, problem: str) -> str:
    page = pages.open_item(
        db.session, report_id, current_user, review_settings(), wellness_settings()
    )
    return render_template(
        "review/item.html",
        page=page,
        view=page.view,
        filters=queue_filters(),
        taxonomy=decisions.TAXONOMY,
        labels=ACTION_LABELS,
        contact_labels=CONTACT_LABELS,
        kept=choice,
        kept_cluster=request.form.get("cluster") == "1",
        problem=problem,
    )


def _record(report: Report, choice: decisions.DecisionInput) -> None:
    undo_seconds, minutes = review_settings().undo_seconds, claim_minutes()
    if request.form.get("cluster") == "1" and report.cluster_id is not None:
        require(current_user, Action.DECIDE_CLUSTER, report)
        recorded = decisions.decide_cluster(
            db.session,
            report.cluster_id,
            current_user.id,
            choice,
            undo_seconds,
            minutes,
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
        decisions.decide(db.session, report, current_user.id, choice, undo_seconds, minutes)


def _go_next(
    current: Report | None, filters: QueueFilters, forward: bool = True, hold: bool = False
) -> Response:
    """Redirect to the neighbouring open item; `hold`: the moderator is working through the
    queue (start, decide and next), so claim the item they land on."""
    status = wellness_status()
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
    if hold:
        landing = db.session.get(Report, next_id)
        if landing is not None and can(current_user, Action.DECIDE, landing):
            claims.hold(db.session, next_id, current_user.id, claim_minutes())
    return redirect(url_for("review.item", report_id=next_id, **filters.as_args()))


@bp.get("/<int:report_id>/next")
@permission_required(Action.VIEW_QUEUE)
def next_item(report_id: int) -> Response:
    """The next (`dir=prev`: previous) open item in queue order after this one; browsing, so
    nothing is claimed."""
    report = db.session.get(Report, report_id)
    return _go_next(report, queue_filters(), forward=request.args.get("dir") != "prev")


@bp.get("/start")
@permission_required(Action.VIEW_QUEUE)
def start() -> Response:
    """Start reviewing: the first open item of the (filtered) queue, claimed. A GET so the
    queue's `s` key is a plain link; a forged one could only make someone hold an item, which
    they see and release."""
    return _go_next(None, queue_filters(), hold=True)


@bp.post("/undo/<batch_id>")
@permission_required(Action.DECIDE)
def undo(batch_id: str) -> Response:
    """Undo our decision batch while its window is open; 409 once it is final."""
    report_ids = decisions.undo(
        db.session,
        batch_id[:36],
        current_user.id,
        system_too=can(current_user, Action.DECIDE_APPEALS),
    )
    flash(_("Decision undone."), "info")
    return redirect(url_for("review.item", report_id=report_ids[0], **queue_filters().as_args()))
