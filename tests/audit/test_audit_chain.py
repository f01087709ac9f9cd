"""The audit log is hash-chained: it verifies, and any edit or deletion is detected."""

from __future__ import annotations

import threading

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from models import GENESIS_HASH, AuditEvent
from moderation.audit import events as audit


def _fill(session, n=5):
    events = [
        audit.record(session, "test.event", actor_kind="system", details={"n": i}) for i in range(n)
    ]
    session.commit()
    assert audit.seal_pending(session) == n
    return events


def test_chain_verifies(session):
    events = _fill(session)
    assert events[0].prev_hash == GENESIS_HASH and events[0].chain_seq == 1
    assert events[1].prev_hash == events[0].row_hash
    verdict = audit.verify_chain(session)
    assert verdict.ok and verdict.events == 5 and verdict.unsealed == 0


def test_recorded_events_wait_unsealed_then_join_the_chain(session):
    _fill(session, 2)
    audit.record(session, "test.late", actor_kind="system")
    session.commit()
    verdict = audit.verify_chain(session)
    assert verdict.ok and verdict.events == 2 and verdict.unsealed == 1
    assert audit.seal_pending(session) == 1
    assert audit.verify_chain(session).events == 3


def test_edited_row_is_detected(session):
    events = _fill(session)
    session.execute(
        update(AuditEvent).where(AuditEvent.id == events[2].id).values(details={"n": 99})
    )
    session.commit()
    verdict = audit.verify_chain(session)
    assert not verdict.ok and verdict.first_bad_id == events[2].id and "altered" in verdict.problem


def test_deleted_row_is_detected(session):
    events = _fill(session)
    session.execute(delete(AuditEvent).where(AuditEvent.id == events[1].id))
    session.commit()
    verdict = audit.verify_chain(session)
    assert not verdict.ok and verdict.first_bad_id == events[2].id


def test_chain_cannot_fork(session):
    events = _fill(session, 2)
    session.add(
        AuditEvent(
            actor_kind="x",
            action="fork",
            chain_seq=3,
            prev_hash=events[0].row_hash,
            row_hash="f" * 64,
            details={},
        )
    )
    try:
        session.commit()
        raise AssertionError("a second successor of one event was accepted")
    except IntegrityError:
        session.rollback()


def test_concurrent_recording_and_sealing_keep_one_chain(app):
    from moderation.core.db import db

    errors: list[BaseException] = []

    def work(offset: int) -> None:
        with app.app_context():
            try:
                for i in range(10):
                    audit.record(
                        db.session,
                        "test.concurrent",
                        actor_kind="system",
                        details={"n": offset + i},
                    )
                    db.session.commit()
                    if i % 3 == 0:
                        audit.seal_pending(db.session)
            except Exception as exc:  # noqa: BLE001 - reported to the main thread below
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(n * 100,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        audit.seal_pending(db.session)
        verdict = audit.verify_chain(db.session)
        assert verdict.ok and verdict.events == 40 and verdict.unsealed == 0
        seqs = (
            db.session.execute(select(AuditEvent.chain_seq).order_by(AuditEvent.chain_seq))
            .scalars()
            .all()
        )
        assert seqs == list(range(1, 41))
