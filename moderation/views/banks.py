"""Admin pages for hash banks: list banks, browse and search entries, query with an uploaded
image (hashed in memory, never stored), and disable, withdraw or re-activate entries."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user
from werkzeug.wrappers import Response

from models import ActionHint, BankKind, EntryStatus
from moderation.accounts.permissions import Action, permission_required
from moderation.banks import search as bank_search
from moderation.banks import service as banks
from moderation.banks.index import BankIndex
from moderation.core.db import db
from moderation.core.errors import DomainError, ValidationError
from moderation.core.ids import page_number
from moderation.media.analysis import analyse_image
from moderation.media.imaging import ImageDecodeError, ImageLimits
from moderation.settings import settings_for

bp = Blueprint("banks", __name__, url_prefix="/admin/banks")

# Statuses an admin may set from the page (deleted comes from a bank's source only).
ADMIN_STATUSES = (EntryStatus.ACTIVE, EntryStatus.DISABLED, EntryStatus.WITHDRAWN)

LABELS = {
    "csam": lazy_gettext("Known CSAM list"),
    "victim_submitted": lazy_gettext("Victim-submitted"),
    "confirmed": lazy_gettext("Confirmed"),
    "imported": lazy_gettext("Imported"),
    "other": lazy_gettext("Other"),
    "raise_priority": lazy_gettext("Raise priority"),
    "known_violation": lazy_gettext("Known violation"),
    "active": lazy_gettext("Active"),
    "withdrawn": lazy_gettext("Withdrawn"),
    "deleted": lazy_gettext("Deleted"),
    "disabled": lazy_gettext("Disabled"),
}


def _bank_index() -> BankIndex:
    return settings_for(current_app).bank_index_handle()


@bp.context_processor
def _labels() -> dict[str, Any]:
    def label(value: object) -> str:
        return str(LABELS.get(str(value), str(value)))

    return {"label": label}


@bp.get("/")
@permission_required(Action.MANAGE_BANKS)
def index() -> str:
    """Every bank with entry counts, and the image query form. Admins only (403 otherwise)."""
    return render_template(
        "banks/index.html",
        summaries=banks.list_banks(db.session),
        kinds=[str(kind) for kind in BankKind],
        hints=[str(hint) for hint in ActionHint],
    )


@bp.get("/<int:bank_id>")
@permission_required(Action.MANAGE_BANKS)
def entries(bank_id: int) -> tuple[str, int]:
    """One bank's entries, paginated, optionally searched by hash. 404 for an unknown bank."""
    bank = banks.get_bank(db.session, bank_id)
    query = request.args.get("q", default="", type=str)
    page = request.args.get("page", default=1, type=page_number)
    error = None
    status = 200
    try:
        listing = bank_search.entries_page(
            db.session, _bank_index(), bank.id, page=page, query=query or None
        )
    except ValidationError as exc:
        error, status = exc.message, 422
        listing = bank_search.entries_page(db.session, _bank_index(), bank.id, page=1)
    page_html = render_template(
        "banks/entries.html",
        bank=bank,
        listing=listing,
        query=query,
        error=error,
        statuses=ADMIN_STATUSES,
    )
    return page_html, status


@bp.post("/<int:bank_id>/enabled")
@permission_required(Action.MANAGE_BANKS)
def set_enabled(bank_id: int) -> Response:
    """Enable or disable a whole bank (audited)."""
    enabled = request.form.get("enabled") == "1"
    banks.set_bank_enabled(db.session, bank_id, enabled, actor_user_id=current_user.id)
    flash(_("Bank enabled.") if enabled else _("Bank disabled."), "info")
    return redirect(url_for("banks.entries", bank_id=bank_id))


@bp.post("/entries/<bigid:entry_id>/status")  # bank entry ids are BIGINT
@permission_required(Action.MANAGE_BANKS)
def set_status(entry_id: int) -> Response:
    """Disable, withdraw or re-activate one entry (audited); it stops matching at once."""
    status = request.form.get("status", "")
    if status not in ADMIN_STATUSES:
        raise ValidationError(_("Choose active, disabled or withdrawn."))
    entry = banks.set_entry_status(db.session, entry_id, status, actor_user_id=current_user.id)
    flash(
        _("Entry %(id)s is now %(status)s.", id=entry.id, status=LABELS[str(entry.status)]), "info"
    )
    return redirect(
        url_for("banks.entries", bank_id=entry.bank_id, q=request.form.get("q") or None)
    )


@bp.post("/query")
@permission_required(Action.MANAGE_BANKS)
def query() -> tuple[str, int]:
    """Hash an uploaded image in memory and show every bank match. The image is neither
    stored nor logged; the query is audited with its hashes only."""
    upload = request.files.get("image")
    data = upload.read() if upload else b""
    config = current_app.config
    limits = ImageLimits(int(config["IMAGE_MAX_PIXELS"]), int(config["IMAGE_MAX_FRAMES"]))
    try:
        analysis = analyse_image(data, limits)
    except ImageDecodeError as exc:
        page = render_template("banks/query.html", error=str(exc), matches=None, hashes=None)
        return page, 422
    matches = bank_search.query_image(
        db.session, _bank_index(), analysis, actor_user_id=current_user.id
    )
    hashes = {
        "sha256": analysis.sha256,
        "md5": analysis.md5,
        "pdq": analysis.pdq,
        "pdq_quality": analysis.pdq_quality,
    }
    return render_template("banks/query.html", error=None, matches=matches, hashes=hashes), 200


@bp.post("/")
@permission_required(Action.MANAGE_BANKS)
def create() -> Response:
    """Create a bank from the page (the same service as `moderation bank create`)."""
    try:
        threshold = int(request.form.get("pdq_threshold", "31"))
    except ValueError:
        threshold = -1  # refused by the service with its own message
    try:
        bank = banks.create_bank(
            db.session,
            request.form.get("name", ""),
            kind=request.form.get("kind", "other"),
            pdq_threshold=threshold,
            action_hint=request.form.get("action_hint", "raise_priority"),
            actor_user_id=current_user.id,
        )
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("banks.index"))
    flash(_("Bank %(name)s created.", name=bank.name), "info")
    return redirect(url_for("banks.entries", bank_id=bank.id))
