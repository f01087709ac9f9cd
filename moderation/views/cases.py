"""The liaison workspace: the case list, escalated reports waiting for a case, and the case page
with its workflow, notes, police requests and the evidence package. Views parse the form, call
one service (moderation/cases/), and answer; a refused action is a message on the page."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user

from models import CaseStatus, CaseType, CaseUrgency
from moderation.accounts.permissions import Action, can, permission_required
from moderation.cases import opening, police, service, workspace
from moderation.cases.actor import Actor
from moderation.cases.evidence import export_case
from moderation.cases.settings import CaseSettings
from moderation.cases.signing import EvidenceSigner
from moderation.cases.summary import summary_renderer
from moderation.core.db import db
from moderation.core.errors import DomainError, ValidationError
from moderation.media.store import media_store_for
from moderation.settings import settings_for

bp = Blueprint("cases", __name__, url_prefix="/cases")

LABELS = {
    CaseType.NCII: lazy_gettext("Intimate images shared without consent"),
    CaseType.SYNTHETIC_SEXUAL: lazy_gettext("Synthetic sexual imagery"),
    CaseType.DOXXING_INCITEMENT: lazy_gettext("Doxxing or incitement"),
    CaseType.CSAM_SUSPECTED: lazy_gettext("Suspected child sexual abuse material"),
    CaseType.OTHER: lazy_gettext("Other"),
    CaseUrgency.ROUTINE: lazy_gettext("routine"),
    CaseUrgency.URGENT: lazy_gettext("urgent"),
    CaseUrgency.IMMEDIATE: lazy_gettext("immediate: a person is in danger"),
    CaseStatus.OPEN: lazy_gettext("open"),
    CaseStatus.REFERRED: lazy_gettext("referred to police"),
    CaseStatus.ACKNOWLEDGED: lazy_gettext("acknowledged by police"),
    CaseStatus.CLOSED: lazy_gettext("closed"),
}


def _actor() -> Actor:
    # The signed-in user carries the configured CSAM_ROLES (views/session.py).
    return Actor.of(current_user.user, current_user.csam_roles)


def _settings() -> CaseSettings:
    return settings_for(current_app).cases


def _sees_all() -> bool:
    """Seniors and admins see every case and the escalations waiting for one."""
    return can(current_user, Action.MANAGE_CASES)


@bp.context_processor
def _labels() -> dict[str, object]:
    return {"case_label": lambda value: str(LABELS.get(value, value))}


def _to_case(case_id: int) -> Response:
    return redirect(url_for("cases.case", case_id=case_id))


def _failed(error: DomainError, case_id: int | None = None) -> Response:
    flash(error.message, "error")
    return _to_case(case_id) if case_id else redirect(url_for("cases.index"))


@bp.get("/")
@permission_required(Action.VIEW_CASES)
def index() -> str:
    """The cases this user may see: a liaison's own and the unassigned ones; all for seniors."""
    status = request.args.get("status", default="", type=str)
    if status not in {str(s) for s in CaseStatus}:
        status = ""
    listing = workspace.open_case_list(db.session, _actor(), status, sees_all=_sees_all())
    return render_template(
        "cases/index.html", listing=listing, statuses=list(CaseStatus), sees_all=_sees_all()
    )


@bp.get("/escalated")
@permission_required(Action.VIEW_CASES)
def escalated() -> str | tuple[str, int]:
    """Escalated reports no case holds yet, to open a case from (liaisons, seniors, admins:
    a liaison knows every escalated report, and may open a case for it)."""
    waiting_only = request.args.get("all") != "1"
    rows = workspace.escalations_page(db.session, _actor(), waiting_only=waiting_only)
    db.session.commit()
    return render_template(
        "cases/escalated.html",
        rows=rows,
        waiting_only=waiting_only,
        types=list(CaseType),
        urgencies=list(CaseUrgency),
        liaisons=workspace.liaisons(db.session) if _sees_all() else [],
    )


@bp.post("/")
@permission_required(Action.VIEW_CASES)
def open_case() -> Response:
    """Open a case from the chosen escalated reports."""
    try:
        ids = [int(value) for value in request.form.getlist("report_id")]
    except ValueError:
        ids = []
    if not ids:
        flash(_("Choose at least one report."), "error")
        return redirect(url_for("cases.escalated"))
    try:
        case = opening.open_case(
            db.session,
            ids,
            request.form.get("type", ""),
            actor=_actor(),
            settings=_settings(),
            # A liaison who opens a case takes it; seniors choose (or leave it unassigned).
            liaison_email=(request.form.get("liaison") or None)
            if _sees_all()
            else current_user.email,
            urgency=request.form.get("urgency") or CaseUrgency.ROUTINE.value,
            reason=request.form.get("reason") or None,
            with_clusters=request.form.get("with_clusters") == "1",
        )
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("cases.escalated"))
    flash(_("Case %(number)s opened.", number=case.number), "info")
    return _to_case(case.id)


@bp.get("/<int:case_id>")
@permission_required(Action.VIEW_CASES)
def case(case_id: int) -> str:
    page = workspace.open_case_page(db.session, case_id, _actor(), may_assign=_sees_all())
    return render_template("cases/case.html", page=page, sees_all=_sees_all())


@bp.post("/<int:case_id>/status")
@permission_required(Action.VIEW_CASES)
def advance(case_id: int) -> Response:
    try:
        service.advance(
            db.session,
            case_id,
            request.form.get("status", ""),
            actor=_actor(),
            reason=request.form.get("reason") or None,
        )
    except DomainError as error:
        return _failed(error, case_id)
    return _to_case(case_id)


@bp.post("/<int:case_id>/assign")
@permission_required(Action.VIEW_CASES)
def assign(case_id: int) -> Response:
    if not _sees_all():
        flash(_("Only seniors and admins assign cases."), "error")
        return _to_case(case_id)
    try:
        service.assign(
            db.session,
            case_id,
            request.form.get("liaison") or None,
            actor=_actor(),
            settings=_settings(),
        )
    except DomainError as error:
        return _failed(error, case_id)
    return _to_case(case_id)


@bp.post("/<int:case_id>/notes")
@permission_required(Action.VIEW_CASES)
def note(case_id: int) -> Response:
    try:
        service.add_note(db.session, case_id, request.form.get("body", ""), actor=_actor())
    except DomainError as error:
        return _failed(error, case_id)
    return _to_case(case_id)


def _when(field: str, required: bool = False) -> datetime | None:
    """A datetime-local field, read as UTC (the form says so)."""
    text = (request.form.get(field) or "").strip()
    if not text:
        if required:
            raise ValidationError(_("Give the time the request was received."))
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise ValidationError(_("A time must look like 2026-12-03T09:30.")) from None


@bp.post("/<int:case_id>/police")
@permission_required(Action.VIEW_CASES)
def log_police_request(case_id: int) -> Response:
    try:
        police.log_request(
            db.session,
            agency=request.form.get("agency", ""),
            officer=request.form.get("officer") or None,
            their_reference=request.form.get("their_reference") or None,
            legal_basis=request.form.get("legal_basis") or None,
            received_at=_when("received_at", required=True),
            due_at=_when("due_at"),
            case_id=case_id,
            actor=_actor(),
        )
    except DomainError as error:
        return _failed(error, case_id)
    flash(_("Police request logged; the clock is running."), "info")
    return _to_case(case_id)


@bp.post("/<int:case_id>/police/<int:request_id>/answer")
@permission_required(Action.VIEW_CASES)
def answer_police_request(case_id: int, request_id: int) -> Response:
    try:
        police.answer(db.session, request_id, actor=_actor(), note=request.form.get("note") or None)
    except DomainError as error:
        return _failed(error, case_id)
    return _to_case(case_id)


@bp.post("/<int:case_id>/export")
@permission_required(Action.EXPORT_EVIDENCE)
def export(case_id: int) -> Response:
    """The signed evidence package as a download (audited by the service). Never cached."""
    try:
        package = export_case(
            db.session,
            media_store_for(current_app.config),
            case_id,
            actor=_actor(),
            settings=_settings(),
            signer=EvidenceSigner.from_config(current_app.config),
            render_summary=summary_renderer(current_app.jinja_env),
        )
    except DomainError as error:
        return _failed(error, case_id)
    response = Response(package.data, mimetype="application/zip")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{package.number}-evidence.zip"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response
