"""Notices to victims who left an email address on the portal: their report moved to the next
stage they can see on the status page (`in_review`, then `finished`; intake/portal.py's
`plain_status`). A notice says only the stage: nothing about the content, the decision or the
accused, and no receipt number (the status page asks for it with the PIN).

The address stays sealed: it is opened here only to be sealed again on the outbox row, which
drops it once the message is sent. A contact that is not an email address (a phone number)
gets no notice; its stage is recorded as skipped so it is looked at once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import MailKind, MailState, OutgoingMail, PortalReceipt, Report, ReportStatus, utcnow
from moderation.accounts.users import EMAIL_RE
from moderation.core.sealing import SealError, read_sealed_contacts
from moderation.intake.portal import CONTACT_PURPOSE, plain_status
from moderation.notifications import outbox
from moderation.notifications.settings import NotificationSettings

NOTIFIED_STAGES = ("in_review", "finished")
LOOKBACK = timedelta(days=180)
_WATCHED = [
    status.value
    for status in ReportStatus
    if status not in (ReportStatus.RECEIVED, ReportStatus.TRIAGING)
]


def _address(session: Session, settings: NotificationSettings, report_id: int) -> str | None:
    try:
        contacts = read_sealed_contacts(session, settings.sealing_key, report_id, CONTACT_PURPOSE)
    except SealError:
        return None
    for value in contacts:
        text = str(value.get("contact", "")).strip()
        if EMAIL_RE.match(text) and len(text) <= 320:
            return text
    return None


def notice_round(session: Session, settings: NotificationSettings, limit: int = 500) -> list[int]:
    """Record a notice for each portal report whose visible stage has not been noticed yet;
    commits each and returns the outbox ids to send."""
    rows = session.execute(
        select(PortalReceipt.id, Report.id, Report.status, Report.language)
        .join(Report, Report.id == PortalReceipt.report_id)
        .where(Report.status.in_(_WATCHED), PortalReceipt.created_at >= utcnow() - LOOKBACK)
        .order_by(PortalReceipt.id)
    ).all()
    wanted = [
        (f"receipt:{receipt_id}", f"report-status:{plain_status(status)}", report_id, language)
        for receipt_id, report_id, status, language in rows
        if plain_status(status) in NOTIFIED_STAGES
    ]
    keys = sorted({key for key, _, _, _ in wanted})
    done: set[tuple[str, str]] = set()
    for start in range(0, len(keys), 500):
        done |= {
            (row[0], row[1])
            for row in session.execute(
                select(OutgoingMail.recipient_key, OutgoingMail.period).where(
                    OutgoingMail.recipient_key.in_(keys[start : start + 500])
                )
            )
        }
    todo = [item for item in wanted if (item[0], item[1]) not in done][:limit]
    recorded = []
    for recipient_key, period, report_id, language in todo:
        address = _address(session, settings, report_id)
        session.rollback()
        row = outbox.record(
            session,
            settings,
            kind=MailKind.REPORT_STATUS,
            recipient_key=recipient_key,
            period=period,
            language=language if language in ("en", "ko") else settings.default_language,
            context={"stage": period.rpartition(":")[2]},
            sealed={"to": address} if address else None,
            state=MailState.PENDING if address else MailState.SKIPPED,
        )
        if row is not None and address:
            recorded.append(row.id)
    return recorded
