"""Rendering a recorded message: subject, plain-text and HTML parts from templates/email/, in
the recipient's language, times in their time zone, links from BASE_URL.

Templates see only the row's `context` (counts, case numbers, report ids, categories), the
links built here and, for the one kind that needs it, the opened invitation link. The plain
text templates end in `.txt`, so Jinja does not HTML-escape them (Flask autoescapes `.html`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import force_locale
from flask_babel import gettext as _
from jinja2 import Environment
from sqlalchemy.orm import Session

from models import MailKind, OutgoingMail
from moderation.notifications.outbox import Rendered, Renderer
from moderation.notifications.settings import NotificationSettings
from moderation.triage.reason_text import category_label


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(value: str | None, zone_name: str | None) -> str:
    """'2026-12-03 18:00 (Asia/Seoul)' for an ISO time, in the recipient's zone."""
    if not value:
        return ""
    zone = _zone(zone_name)
    moment = datetime.fromisoformat(value).astimezone(zone)
    return f"{moment:%Y-%m-%d %H:%M} ({zone.key})"


CASE_TYPE_LABELS = {
    "ncii": "Intimate images shared without consent",
    "synthetic_sexual": "Synthetic sexual imagery",
    "doxxing_incitement": "Doxxing or incitement",
    "csam_suspected": "Suspected child sexual abuse material",
    "other": "Other",
}
URGENCY_LABELS = {"routine": "Routine", "urgent": "Urgent", "immediate": "Immediate danger"}
STATUS_LABELS = {
    "received": "received",
    "triaging": "being checked",
    "queued": "waiting for review",
    "in_review": "being reviewed",
    "decided": "decided",
    "escalated": "passed to our law-enforcement liaison team",
}


def case_type_label(code: str) -> str:
    return _(CASE_TYPE_LABELS.get(code, "Other"))


def urgency_label(code: str) -> str:
    return _(URGENCY_LABELS.get(code, code))


def status_label(code: str) -> str:
    return _(STATUS_LABELS.get(code, code))


def _subject(row: OutgoingMail) -> str:
    context = row.context
    kind = MailKind(row.kind)
    if kind == MailKind.DIGEST:
        return _("Moderation digest: %(count)s items need you", count=context.get("total", 0))
    if kind == MailKind.URGENT_ALERT:
        if context.get("case"):
            return _("Urgent case %(number)s", number=context["case"]["number"])
        return _("Police request #%(id)s due soon", id=context["request"]["id"])
    if kind == MailKind.INVITATION:
        return _("You are invited to the moderation queue")
    if kind == MailKind.NEW_DEVICE:
        return _("New sign-in to your account")
    if kind == MailKind.PASSWORD_CHANGED:
        return _("Your password was changed")
    return _("The status of your report has changed")


# Non-gettext'd literals above are catalogue entries too: list them for extraction.
_LITERALS = (
    *CASE_TYPE_LABELS.values(),
    *URGENCY_LABELS.values(),
    *STATUS_LABELS.values(),
)


def renderer(jinja_env: Environment, session: Session, settings: NotificationSettings) -> Renderer:
    """A function rendering rows with this app's templates (the job builds it per run). Needs
    an app context (translations)."""
    from moderation.notifications import preferences, unsubscribe

    def render(row: OutgoingMail, opened: dict[str, Any]) -> Rendered:
        context = dict(row.context)
        zone = context.get("time_zone") or settings.default_time_zone
        headers: list[tuple[str, str]] = []
        links = {
            "home": settings.link("/"),
            "cases": settings.link("/cases/"),
            "dashboard": settings.link("/dashboard/"),
            "preferences": settings.link("/account/notifications"),
            "portal_status": settings.link("/portal/status"),
        }
        if row.kind == MailKind.DIGEST and row.user_id is not None:
            key = preferences.unsubscribe_key_of(session, row.user_id)
            link = settings.link(f"/unsubscribe/{unsubscribe.make_token(settings, key)}")
            links["unsubscribe"] = link
            # RFC 2369 / RFC 8058: mail clients show an unsubscribe button that POSTs here.
            headers.append(("List-Unsubscribe", f"<{link}>"))
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        if row.kind == MailKind.INVITATION:
            links["invitation"] = str(opened.get("link", ""))
        with force_locale(row.language or "en"):
            values = {
                "c": context,
                "links": links,
                "when": lambda iso: local_time(iso, zone),
                "case_type_label": case_type_label,
                "urgency_label": urgency_label,
                "status_label": status_label,
                "category_label": category_label,
                "lang": row.language,
            }
            subject = _subject(row)
            text = jinja_env.get_template(f"email/{row.kind}.txt").render(subject=subject, **values)
            # Sections left out leave blank lines behind: at most one in a row.
            text = re.sub(r"\n{3,}", "\n\n", text)
            html = jinja_env.get_template(f"email/{row.kind}.html").render(
                subject=subject, **values
            )
        return Rendered(subject=subject, text=text, html=html, headers=tuple(headers))

    return render
