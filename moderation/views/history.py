"""The history of decided and escalated reports, and the search box that finds any report."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from models import Category
from moderation.accounts.permissions import Action, permission_required, visible_reports_clause
from moderation.core.db import db
from moderation.core.ids import page_number
from moderation.review.decisions import TAXONOMY
from moderation.review.history import HistoryFilters, open_history
from moderation.settings import settings_for

bp = Blueprint("history", __name__, url_prefix="/review/history")


@bp.get("/")
@permission_required(Action.VIEW_QUEUE)
def index() -> str:
    filters = HistoryFilters.from_args(request.args)
    page = open_history(
        db.session,
        current_user.id,
        visible_reports_clause(current_user),
        filters,
        request.args.get("page", default=1, type=page_number),
        settings_for(current_app).triage.cluster_settings,
    )
    return render_template(
        "review/history.html",
        page=page,
        filters=filters,
        actions=[action.code for action in TAXONOMY if action.code != "needs_context"],
        categories=[str(category) for category in Category],
    )
