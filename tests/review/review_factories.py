"""Factory functions for the review tests: queued reports written straight to the database
(skipping intake and triage, which have their own tests), with media, signals and clusters.

Signals are made by triage's own producers (text hits by the text detectors, bank hits by a
real bank entry and the bank matcher, detections through `models.Detection`): a fixture that
writes the shape a reader expects, instead of what the producer writes, once hid detector boxes
that never showed."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from PIL import Image

from models import (
    Detection,
    Media,
    MediaState,
    Platform,
    Report,
    ReportStatus,
    Signal,
    SignalKind,
    utcnow,
)
from moderation.core.db import db
from moderation.media.store import media_store_for
from tests.factories import make_image, make_platform


def platform_id(app, slug: str = "acme") -> int:
    from sqlalchemy import select

    with app.app_context():
        found = db.session.execute(
            select(Platform.id).where(Platform.slug == slug)
        ).scalar_one_or_none()
    if found is None:
        make_platform(app, slug)
        with app.app_context():
            found = db.session.execute(
                select(Platform.id).where(Platform.slug == slug)
            ).scalar_one()
    return found


def make_report(
    app,
    *,
    category: str = "ncii",
    priority: int = 50,
    media: list[bytes] | None = None,
    text: str | None = None,
    signals: list[dict[str, Any]] | None = None,
    cluster_id: int | None = None,
    age_hours: float = 1.0,
    language: str | None = None,
    status: str = ReportStatus.QUEUED,
    posted_by: str | None = "acct-9",
    chat_id: str | None = "room-1",
    slug: str = "acme",
    mime: str = "image/jpeg",
) -> int:
    """A report waiting in the queue; returns its id.

    `signals` items: {"kind": "text"} runs the text detectors on the report's texts;
    {"kind": "bank", "label": BANK_KIND, "media_index": 0} adds that medium's SHA-256 to a bank
    of that kind and stores what the bank matcher finds; {"kind": "classifier", "label": L,
    "score": S, "media_index": 0, "detection": Detection(...)} stores a detection."""
    pid = platform_id(app, slug)
    with app.app_context():
        store = media_store_for(app.config)
        if cluster_id is not None:
            from models.cluster import Cluster

            if db.session.get(Cluster, cluster_id) is None:
                db.session.add(Cluster(id=cluster_id))
                db.session.flush()
        report = Report(
            platform_id=pid,
            category=category,
            reporter_kind="user",
            comment="this is me, posted without consent",
            content_text=text,
            posted_by_id=posted_by,
            posted_by_handle="someone",
            context={"chat_id": chat_id} if chat_id else {},
            channel_id=chat_id,
            status=status,
            priority=priority,
            priority_reasons=[
                {"code": "category.ncii", "points": 35, "detail": "reported as NCII"}
            ],
            cluster_id=cluster_id,
            received_at=utcnow() - timedelta(hours=age_hours),
            queued_at=utcnow(),
        )
        if language is not None:
            report.language = language
        db.session.add(report)
        db.session.flush()
        rows = []
        for position, data in enumerate(media or []):
            key = store.put(data)
            width = height = None
            if mime.startswith("image/"):
                with Image.open(io.BytesIO(data)) as image:
                    width, height = image.size
            row = Media(
                report_id=report.id,
                position=position,
                storage_key=key,
                sha256=key,
                mime=mime,
                width=width,
                height=height,
                state=MediaState.HASHED,
                kind="video" if mime.startswith("video/") else "image",
            )
            db.session.add(row)
            rows.append(row)
        db.session.flush()
        for spec in signals or []:
            db.session.add_all(_produced(report, rows, dict(spec)))
        db.session.commit()
        return report.id


def image_report(app, seed: int = 0, **kwargs: Any) -> int:
    return make_report(app, media=[make_image(seed)], **kwargs)


def _produced(report: Report, media: list[Media], spec: dict[str, Any]) -> list[Signal]:
    from moderation.banks.matching import match_media
    from moderation.banks.service import add_to_bank, create_bank, get_bank
    from moderation.core.errors import NotFoundError
    from moderation.triage.signals import bank_rows, text_signals

    kind = SignalKind(spec["kind"])
    if kind == SignalKind.TEXT:
        return [replace_report(signal, report) for signal in text_signals(report)]
    target = media[spec.get("media_index", 0)]
    if kind == SignalKind.BANK:
        bank_kind = spec.get("label", "confirmed")
        name = f"test {bank_kind}"
        try:
            bank = get_bank(db.session, name)
        except NotFoundError:
            bank = create_bank(db.session, name, kind=bank_kind)
        add_to_bank(db.session, bank.id, "sha256", target.sha256, source="test")
        matches = match_media(
            db.session, None, pdq_dihedral=None, pdq_quality=None, md5=None, sha256=target.sha256
        )
        assert matches, "the bank matcher found the entry just added"
        return [replace_report(signal, report) for signal in bank_rows(target.id, matches)]
    if kind == SignalKind.CLASSIFIER:
        detection: Detection = spec["detection"]
        return [
            Signal(
                report_id=report.id,
                media_id=target.id,
                kind=kind,
                label=spec["label"],
                score=spec.get("score"),
                details=detection.to_details(),
            )
        ]
    raise ValueError(f"no producer for {kind} signals in the review factory")


def replace_report(signal: Signal, report: Report) -> Signal:
    signal.report_id = report.id
    return signal
