"""Retention: originals are destroyed once their retention period has passed, by
crypto-shredding (moderation/media/store.py `destroy`: the wrapped data key, then the
ciphertext), with one custody event per medium. The report and media rows stay, with every hash
(SHA-256, MD5, PDQ, video frames), so a re-share still matches after the bytes are gone.

A medium is due when its report's latest final decision is older than `RETENTION_DAYS` for
that decision's outcome ("no_violation", "removed" for any remove.*, "escalated"); outcomes not
listed, and reports still waiting, are kept. Never destroyed: media under an active
preservation hold (moderation/cases/holds.py), and media of reports in a case that is not
closed. Objects are content-addressed, so one object may back several media rows (byte-identical
copies); it is destroyed only when every row that uses it is due.

Safe to run twice or in two places: a medium already shredded has its `media_shreds` row (the
primary key settles a race) and destroying a missing object is a no-op.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from models import (
    Case,
    CaseReport,
    CaseStatus,
    Decision,
    DecisionState,
    Media,
    MediaHold,
    MediaShred,
    Report,
    ReportStatus,
    utcnow,
)
from moderation.audit import events as audit
from moderation.cases.actor import Actor
from moderation.cases.holds import active_hold_clause
from moderation.cases.settings import CaseSettings
from moderation.media.store import MediaStore, MediaStoreError

log = logging.getLogger(__name__)
SETTLED = (ReportStatus.DECIDED, ReportStatus.ESCALATED)


def outcome_of(action: str) -> str | None:
    """The retention outcome of a final decision's policy action (None: not settled)."""
    if action == "no_violation":
        return "no_violation"
    if action.startswith("remove."):
        return "removed"
    if action == "escalate":
        return "escalated"
    return None


@dataclass(frozen=True)
class DueMedium:
    media_id: int
    report_id: int
    storage_key: str
    outcome: str
    retention_days: int
    decided_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "media_id": self.media_id,
            "report_id": self.report_id,
            "outcome": self.outcome,
            "retention_days": self.retention_days,
            "decided_at": self.decided_at.isoformat(),
        }


@dataclass
class RetentionRun:
    dry_run: bool
    shredded: list[DueMedium] = field(default_factory=list)
    # Due, but the same bytes back a medium that is not (held, in an open case, not yet due).
    kept_shared: list[int] = field(default_factory=list)
    held: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "shredded": [item.to_dict() for item in self.shredded],
            "kept_shared_media_ids": self.kept_shared,
            "held_due_media": self.held,
        }


def _latest_final_decisions() -> Any:
    latest = (
        select(Decision.report_id, func.max(Decision.finalized_at).label("decided_at"))
        .where(Decision.state == DecisionState.FINAL.value, Decision.finalized_at.is_not(None))
        .group_by(Decision.report_id)
        .subquery()
    )
    return latest


def _protected_clause(now: datetime) -> Any:
    """True for `Media` rows retention must not touch: held, or in a case not yet closed."""
    held = exists().where(MediaHold.media_id == Media.id, active_hold_clause(now))
    in_open_case = exists(
        select(CaseReport.report_id)
        .join(Case, Case.id == CaseReport.case_id)
        .where(CaseReport.report_id == Media.report_id, Case.status != CaseStatus.CLOSED.value)
    )
    return held | in_open_case


def due_media(
    session: Session, settings: CaseSettings, now: datetime, limit: int
) -> tuple[list[DueMedium], int]:
    """Media past retention and not protected, oldest decision first (at most `limit`), and how
    many more are due but protected."""
    if not settings.retention_days:
        return [], 0
    latest = _latest_final_decisions()
    shortest = min(settings.retention_days.values())
    rows = session.execute(
        select(
            Media.id,
            Media.report_id,
            Media.storage_key,
            Decision.action,
            latest.c.decided_at,
            _protected_clause(now).label("protected"),
        )
        .join(Report, Report.id == Media.report_id)
        .join(latest, latest.c.report_id == Media.report_id)
        .join(
            Decision,
            and_(
                Decision.report_id == latest.c.report_id,
                Decision.finalized_at == latest.c.decided_at,
                Decision.state == DecisionState.FINAL.value,
            ),
        )
        .where(
            Media.storage_key.is_not(None),
            Report.status.in_([status.value for status in SETTLED]),
            latest.c.decided_at <= now - timedelta(days=shortest),
            ~exists().where(MediaShred.media_id == Media.id),
        )
        .order_by(latest.c.decided_at, Media.id)
    ).all()
    due: dict[int, DueMedium] = {}
    protected = 0
    for media_id, report_id, storage_key, action, decided_at, is_protected in rows:
        outcome = outcome_of(action)
        days = settings.retention_days.get(outcome or "")
        if days is None or decided_at > now - timedelta(days=days) or media_id in due:
            continue
        if is_protected:
            protected += 1
            continue
        due[media_id] = DueMedium(media_id, report_id, storage_key, outcome or "", days, decided_at)
        if len(due) >= limit:
            break
    return list(due.values()), protected


def run_retention(
    session: Session,
    store: MediaStore,
    settings: CaseSettings,
    *,
    dry_run: bool = False,
    limit: int = 1000,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> RetentionRun:
    """Shred every due, unprotected medium (up to `limit`); with `dry_run`, only say which.
    Each object is destroyed after its rows and custody events are committed, so a crash in
    between leaves a recorded shred of an object that is still there (the next run destroys
    it), never destroyed bytes that nothing records. Commits."""
    actor = actor or Actor.system()
    now = now or utcnow()
    if not dry_run:
        _finish_interrupted(session, store)
    due, held = due_media(session, settings, now, limit)
    run = RetentionRun(dry_run=dry_run, held=held)
    by_key: dict[str, list[DueMedium]] = {}
    for item in due:
        by_key.setdefault(item.storage_key, []).append(item)
    for storage_key, items in by_key.items():
        if _unshredded_users(session, storage_key) - {item.media_id for item in items}:
            run.kept_shared.extend(item.media_id for item in items)
            continue
        run.shredded.extend(items)
        if dry_run:
            continue
        for item in items:
            session.add(
                MediaShred(
                    media_id=item.media_id,
                    storage_key=storage_key,
                    outcome=item.outcome,
                    retention_days=item.retention_days,
                    shredded_at=now,
                )
            )
            audit.record(
                session,
                "media.shred",
                **actor.audit(),
                object_type="media",
                object_id=item.media_id,
                details={
                    "report_id": item.report_id,
                    "outcome": item.outcome,
                    "retention_days": item.retention_days,
                    "decided_at": item.decided_at.isoformat(),
                },
            )
        session.commit()
        _destroy(session, store, storage_key, [item.media_id for item in items])
    if dry_run:
        session.rollback()
    return run


def _destroy(session: Session, store: MediaStore, storage_key: str, media_ids: list[int]) -> None:
    if _unshredded_users(session, storage_key):
        # The same bytes arrived again (a re-share) since the shred was recorded: they belong
        # to that medium now. The recorded media stay shredded as far as reads go.
        _mark_destroyed(session, media_ids)
        return
    store.destroy(storage_key)
    _mark_destroyed(session, media_ids)
    late = _unshredded_users(session, storage_key)
    if late:
        # A re-share of the same bytes was stored in the instant between the check and the
        # destroy (intake keeps an existing object instead of writing it again): its bytes are
        # gone with ours. Rare; said loudly, by ids, so the platform can be asked to resend.
        log.warning("retention destroyed bytes a new medium needs: media %s", sorted(late))


def _mark_destroyed(session: Session, media_ids: list[int]) -> None:
    session.execute(
        update(MediaShred)
        .where(MediaShred.media_id.in_(media_ids))
        .values(object_destroyed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _finish_interrupted(session: Session, store: MediaStore) -> None:
    """Destroy objects a previous run recorded as shredded but died before destroying."""
    rows = session.execute(
        select(MediaShred.storage_key, MediaShred.media_id).where(
            MediaShred.object_destroyed_at.is_(None)
        )
    ).all()
    by_key: dict[str, list[int]] = {}
    for storage_key, media_id in rows:
        by_key.setdefault(storage_key, []).append(media_id)
    for storage_key, media_ids in by_key.items():
        _destroy(session, store, storage_key, media_ids)


def _unshredded_users(session: Session, storage_key: str) -> set[int]:
    return set(
        session.execute(
            select(Media.id).where(
                Media.storage_key == storage_key,
                ~exists().where(MediaShred.media_id == Media.id),
            )
        ).scalars()
    )


class MediaShredded(MediaStoreError):
    """The original was destroyed by retention; its hashes are kept."""


def read_original(session: Session, store: MediaStore, media: Media) -> bytes:
    """The original bytes of `media`; raises MediaShredded once retention destroyed them (even if
    a later re-share brought the same bytes back under another medium), MediaStoreError when
    they are missing or fail their integrity check."""
    shred = session.get(MediaShred, media.id)
    if shred is not None:
        raise MediaShredded(
            f"the original was destroyed by retention on {shred.shredded_at.date().isoformat()};"
            " its hashes are kept"
        )
    if media.storage_key is None:
        raise MediaStoreError("media object not found")
    return store.get(media.storage_key)
