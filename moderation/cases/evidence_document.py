"""The record of an evidence package (data/case.json): the case, its reports and decisions,
its media with hashes and fetch custody, the accounts and channels involved, the spread
timeline of every known copy, and the custody log excerpt. One dict, read by the summary
template and written as JSON, so the two never disagree."""

from __future__ import annotations

import mimetypes
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models import (
    AuditEvent,
    Case,
    Decision,
    DecisionState,
    Media,
    MediaShred,
    Platform,
    Report,
    User,
    utcnow,
)
from moderation.audit import events as audit
from moderation.cases.actor import Actor
from moderation.cases.presenting import report_ids_of
from moderation.cases.service import cluster_ids_of, referral_clock
from moderation.cases.settings import CaseSettings
from moderation.cases.signing import EvidenceSigner

FORMAT = "moderation-evidence/1"
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _extension(media: Media) -> str:
    if media.mime in _EXTENSIONS:
        return _EXTENSIONS[media.mime]
    guessed = mimetypes.guess_extension(media.mime or "") if media.mime else None
    return guessed or ".bin"


def _file_name(media: Media) -> str:
    prefix = (media.sha256 or "unknown")[:12]
    return f"media/R{media.report_id}-M{media.id}-{prefix}{_extension(media)}"


def _custody_excerpt(
    session: Session, case_id: int, report_ids: list[int], media_ids: list[int], clusters: list[int]
) -> dict[str, Any]:
    """Sealed audit events about these items, with every field needed to recompute each
    event's hash (moderation/audit/events.py `event_hash`), and the chain head."""
    audit.seal_pending(session)
    wanted = [
        (AuditEvent.object_type == "case") & (AuditEvent.object_id == str(case_id)),
    ]
    if report_ids:
        wanted.append(
            (AuditEvent.object_type == "report")
            & AuditEvent.object_id.in_([str(i) for i in report_ids])
        )
    if media_ids:
        wanted.append(
            (AuditEvent.object_type == "media")
            & AuditEvent.object_id.in_([str(i) for i in media_ids])
        )
    if clusters:
        wanted.append(
            (AuditEvent.object_type == "cluster")
            & AuditEvent.object_id.in_([str(i) for i in clusters])
        )
    events = session.execute(
        select(AuditEvent)
        .where(AuditEvent.chain_seq.is_not(None), or_(*wanted))
        .order_by(AuditEvent.chain_seq)
    ).scalars()
    head = session.execute(
        select(AuditEvent.chain_seq, AuditEvent.row_hash)
        .where(AuditEvent.chain_seq.is_not(None))
        .order_by(AuditEvent.chain_seq.desc())
        .limit(1)
    ).first()
    return {
        "hash": "SHA-256 over canonical JSON of prev, seq, at, actor, actor_kind, action, "
        "object_type, object_id, details (moderation/audit/events.py)",
        "chain_head": {"seq": head[0], "row_hash": head[1]} if head else None,
        "events": [
            {
                "seq": event.chain_seq,
                "at": event.occurred_at.isoformat(timespec="microseconds"),
                "actor": event.actor_user_id,
                "actor_kind": event.actor_kind,
                "action": event.action,
                "object_type": event.object_type,
                "object_id": event.object_id,
                "details": event.details,
                "prev_hash": event.prev_hash,
                "row_hash": event.row_hash,
            }
            for event in events
        ],
    }


def _report_doc(
    report: Report, platform: str | None, decisions: list[dict[str, Any]]
) -> dict[str, Any]:
    context = report.context or {}
    return {
        "id": report.id,
        "platform": platform,
        "external_id": report.external_id,
        "content_url": report.content_url,
        "category": report.category,
        "status": str(report.status),
        "received_at": _iso(report.received_at),
        "reported_at": _iso(report.reported_at),
        "reporter_kind": report.reporter_kind,
        "comment": report.comment,
        "content_text": report.content_text,
        "language": report.language,
        "posted_by": {"id": report.posted_by_id, "handle": report.posted_by_handle},
        "channel": {
            "id": report.channel_id,
            "name": context.get("channel_name"),
            "member_count": context.get("member_count"),
        },
        "context": context,
        "cluster_id": report.cluster_id,
        "decisions": decisions,
    }


def _spread_timeline(
    session: Session, case_report_ids: list[int], clusters: list[int], platforms: dict[int, str]
) -> list[dict[str, Any]]:
    """Every known copy (the case's reports and all reports of their clusters), ordered by when
    it was posted (`context.posted_at` when the platform sends it), else reported, else
    received; the earliest is marked first seen: finding the first uploader is how these
    perpetrators are found."""
    query = select(Report).where(Report.id.in_(case_report_ids))
    if clusters:
        query = select(Report).where(
            or_(Report.id.in_(case_report_ids), Report.cluster_id.in_(clusters))
        )
    rows = []
    for report in session.execute(query).scalars():
        context = report.context or {}
        posted = context.get("posted_at")
        when, basis = (
            (posted, "posted")
            if isinstance(posted, str) and posted
            else (_iso(report.reported_at), "reported")
            if report.reported_at
            else (_iso(report.received_at), "received")
        )
        rows.append(
            {
                "report_id": report.id,
                "at": when,
                "basis": basis,
                "platform": platforms.get(report.platform_id),
                "content_url": report.content_url,
                "account": {"id": report.posted_by_id, "handle": report.posted_by_handle},
                "channel": {"id": report.channel_id, "member_count": context.get("member_count")},
                "in_case": report.id in case_report_ids,
                "first_seen": False,
            }
        )
    rows.sort(key=lambda row: (row["at"] or "", row["report_id"]))
    if rows:
        rows[0]["first_seen"] = True
    return rows


def _people(reports: list[Report], platforms: dict[int, str]) -> tuple[list[Any], list[Any]]:
    accounts: dict[tuple[str | None, str], dict[str, Any]] = {}
    channels: dict[tuple[str | None, str], dict[str, Any]] = {}
    for report in reports:
        platform = platforms.get(report.platform_id)
        if report.posted_by_id:
            entry = accounts.setdefault(
                (platform, report.posted_by_id),
                {"platform": platform, "id": report.posted_by_id, "handles": [], "report_ids": []},
            )
            if report.posted_by_handle and report.posted_by_handle not in entry["handles"]:
                entry["handles"].append(report.posted_by_handle)
            entry["report_ids"].append(report.id)
        if report.channel_id:
            context = report.context or {}
            entry = channels.setdefault(
                (platform, report.channel_id),
                {"platform": platform, "id": report.channel_id, "name": context.get("channel_name"),
                 "member_count": context.get("member_count"), "report_ids": []},
            )  # fmt: skip
            entry["report_ids"].append(report.id)
    return list(accounts.values()), list(channels.values())


def build_document(
    session: Session, case: Case, settings: CaseSettings, signer: EvidenceSigner, actor: Actor
) -> tuple[dict[str, Any], list[tuple[Media, str]]]:
    """case.json as a dict, and the media to put in data/ with their file names."""
    report_ids = report_ids_of(session, case.id)
    reports = list(
        session.execute(
            select(Report).where(Report.id.in_(report_ids)).order_by(Report.id)
        ).scalars()
    )
    platforms = {row[0]: row[1] for row in session.execute(select(Platform.id, Platform.slug))}
    emails = {row[0]: row[1] for row in session.execute(select(User.id, User.email))}
    media = list(
        session.execute(
            select(Media)
            .where(Media.report_id.in_(report_ids))
            .order_by(Media.report_id, Media.position, Media.id)
        ).scalars()
    )
    shredded = set(
        session.execute(
            select(MediaShred.media_id).where(MediaShred.media_id.in_([m.id for m in media]))
        ).scalars()
    )
    decisions: dict[int, list[dict[str, Any]]] = {}
    for decision in session.execute(
        select(Decision)
        .where(Decision.report_id.in_(report_ids), Decision.state == DecisionState.FINAL.value)
        .order_by(Decision.id)
    ).scalars():
        decisions.setdefault(decision.report_id, []).append(
            {
                "id": decision.id,
                "policy": decision.action,
                "reason": decision.reason,
                "note": decision.note,
                "by": emails.get(decision.user_id) if decision.user_id else None,
                "at": _iso(decision.created_at),
                "final_at": _iso(decision.finalized_at),
                "without_viewing": decision.without_viewing,
            }
        )
    clusters = cluster_ids_of(session, report_ids)
    accounts, channels = _people(reports, platforms)
    files = [(item, _file_name(item)) for item in media]
    media_docs = []
    for item, name in files:
        media_docs.append(
            {
                "id": item.id,
                "report_id": item.report_id,
                "position": item.position,
                "file": f"data/{name}",
                "included": bool(item.storage_key) and item.id not in shredded,
                "sha256": item.sha256,
                "md5": item.md5,
                "pdq": item.pdq,
                "pdq_quality": item.pdq_quality,
                "size_bytes": item.size_bytes,
                "mime": item.mime,
                "kind": str(item.kind),
                "width": item.width,
                "height": item.height,
                "duration_s": item.duration_s,
                "original_filename": item.filename,
                "source_url": item.source_url,
                "custody": item.custody or {},
                "received_at": _iso(item.created_at),
                "shredded": item.id in shredded,
            }
        )
    now = utcnow()
    document = {
        "format": FORMAT,
        "generated_at": now.isoformat(),
        "generated_by": {"kind": actor.kind, "user": emails.get(actor.user_id or 0)},
        "organization": settings.organization,
        "signing_key": {"algorithm": "Ed25519", "fingerprint": signer.fingerprint},
        "case": {
            "id": case.id,
            "number": case.number,
            "type": str(case.case_type),
            "urgency": str(case.urgency),
            "status": str(case.status),
            "language": case.language,
            "reason": case.reason,
            "opened_at": _iso(case.opened_at),
            "opened_by": emails.get(case.opened_by_id or 0),
            "assigned_liaison": emails.get(case.assigned_liaison_id or 0),
            "referral": referral_clock(case, now).to_dict(),
            "referred_at": _iso(case.referred_at),
            "acknowledged_at": _iso(case.acknowledged_at),
            "closed_at": _iso(case.closed_at),
            "close_reason": case.close_reason,
            "notes": [
                {"at": _iso(n.created_at), "by": emails.get(n.author_id or 0), "body": n.body}
                for n in case.notes
            ],
        },
        "reports": [
            _report_doc(r, platforms.get(r.platform_id), decisions.get(r.id, [])) for r in reports
        ],
        "media": media_docs,
        "accounts": accounts,
        "channels": channels,
        "spread_timeline": _spread_timeline(session, report_ids, clusters, platforms),
        "custody_log": _custody_excerpt(
            session, case.id, report_ids, [m.id for m in media], clusters
        ),
    }
    return document, files
