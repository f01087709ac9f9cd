"""`moderation media migrate --to URL`: every original the database knows, copied and verified,
resumable, with failures counted and the exit status non-zero; audited; nothing sensitive
printed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import select

from models import AuditEvent, Media, MediaShred
from moderation.core.db import db
from moderation.media.s3store import EncryptedS3Store
from moderation.media.store import EncryptedFileStore
from tests.factories import make_image, make_platform, post_report, report_body
from tests.media.conftest import MEDIA_KEY, make_bucket

COUNTS = "copied {}, already present {}, missing in source {}, failed {}"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _report(app, client, images: list[bytes], slug: str = "acme") -> None:
    platform = make_platform(app, slug)
    response = post_report(client, platform, report_body(images))
    assert response.status_code == 202, response.get_json()


def _migrate_events(app) -> list[dict]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "media.migrate").order_by(AuditEvent.id)
        ).scalars()
        return [{"actor_kind": row.actor_kind, **row.details} for row in rows]


def _media_id(app, data: bytes) -> int:
    with app.app_context():
        return (
            db.session.execute(
                select(Media.id).where(Media.storage_key == _sha(data)).order_by(Media.id)
            )
            .scalars()
            .first()
        )


def test_file_to_s3_copies_verifies_and_resumes(app, client, runner, s3, s3_endpoint):
    images = [make_image(seed) for seed in (21, 22, 23)]
    _report(app, client, images[:2])
    _report(app, client, [images[2], images[0]], slug="other")  # a re-share: one object, 2 media
    bucket = make_bucket(s3)
    app.config["S3_ENDPOINT_URL"] = s3_endpoint
    url = f"s3://{bucket}/originals"

    first = runner.invoke(args=["media", "migrate", "--to", url])
    assert first.exit_code == 0, first.output
    assert COUNTS.format(3, 0, 0, 0) in first.stdout
    target = EncryptedS3Store(s3, bucket, "originals", MEDIA_KEY)
    assert [target.get(_sha(data)) for data in images] == images

    second = runner.invoke(args=["media", "migrate", "--to", url])
    assert second.exit_code == 0, second.output
    assert COUNTS.format(0, 3, 0, 0) in second.stdout

    events = _migrate_events(app)
    assert [(e["copied"], e["already_present"], e["failed"]) for e in events] == [
        (3, 0, 0),
        (0, 3, 0),
    ]
    assert events[0]["target"] == url and events[0]["source"].startswith("file:///")
    assert events[0]["actor_kind"] == "cli"
    # Neither the output nor the audit trail carries a medium's bytes or its hash.
    for text in (first.output, second.output, json.dumps(events)):
        assert not any(_sha(data) in text for data in images)


def test_s3_to_file(app, client, runner, s3, s3_endpoint, tmp_path):
    bucket = make_bucket(s3)
    app.config.update(MEDIA_STORAGE_URL=f"s3://{bucket}/m", S3_ENDPOINT_URL=s3_endpoint)
    images = [make_image(31), make_image(32)]
    _report(app, client, images)
    assert not list(Path(app.config["MEDIA_DIR"]).rglob("*.bin"))  # intake wrote to S3

    destination = tmp_path / "moved"
    result = runner.invoke(args=["media", "migrate", "--to", destination.as_uri(), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["copied"], document["failed"], document["missing"]) == (2, 0, 0)
    assert document["source"] == f"s3://{bucket}/m"
    store = EncryptedFileStore(destination, MEDIA_KEY)
    assert [store.get(_sha(data)) for data in images] == images

    again = json.loads(
        runner.invoke(args=["media", "migrate", "--to", destination.as_uri(), "--json"]).stdout
    )
    assert (again["copied"], again["already_present"]) == (0, 2)


def test_corrupt_and_missing_sources_are_counted_and_fail_the_run(
    app, client, runner, s3, s3_endpoint
):
    good, corrupt, gone = make_image(41), make_image(42), make_image(43)
    _report(app, client, [good, corrupt, gone])
    source = EncryptedFileStore(app.config["MEDIA_DIR"], MEDIA_KEY)
    path = source._path(_sha(corrupt))
    blob = bytearray(path.read_bytes())
    blob[-3] ^= 0x40
    path.write_bytes(bytes(blob))
    source._path(_sha(gone)).unlink()
    bucket = make_bucket(s3)
    app.config["S3_ENDPOINT_URL"] = s3_endpoint

    result = runner.invoke(args=["media", "migrate", "--to", f"s3://{bucket}"])
    assert result.exit_code == 1, result.output
    assert COUNTS.format(1, 0, 1, 1) in result.stdout
    assert f"failed (integrity 1): media {_media_id(app, corrupt)}" in result.stderr
    assert f"missing in the source store: media {_media_id(app, gone)}" in result.stderr
    target = EncryptedS3Store(s3, bucket, "", MEDIA_KEY)
    assert target.get(_sha(good)) == good and not target.exists(_sha(corrupt))
    (event,) = _migrate_events(app)
    assert (event["failed"], event["missing"], event["reasons"]) == (1, 1, {"integrity": 1})
    assert event["failed_media_ids"] == [_media_id(app, corrupt)]


def test_a_damaged_copy_in_the_target_is_replaced(app, client, runner, s3, s3_endpoint):
    images = [make_image(51), make_image(52)]
    _report(app, client, images)
    bucket = make_bucket(s3, versioned=True)
    app.config["S3_ENDPOINT_URL"] = s3_endpoint
    url = f"s3://{bucket}/o"
    assert runner.invoke(args=["media", "migrate", "--to", url]).exit_code == 0
    target = EncryptedS3Store(s3, bucket, "o", MEDIA_KEY)
    name = target.object_key(_sha(images[0]))
    s3.put_object(Bucket=bucket, Key=name, Body=b"MQE1" + bytes(100))  # damaged, as if torn

    result = runner.invoke(args=["media", "migrate", "--to", url])
    assert result.exit_code == 0, result.output
    assert COUNTS.format(1, 1, 0, 0) in result.stdout
    assert target.get(_sha(images[0])) == images[0]


def test_shredded_media_is_not_copied(app, client, runner, tmp_path):
    kept, shredded = make_image(61), make_image(62)
    _report(app, client, [kept, shredded])
    with app.app_context():
        media_id = _media_id(app, shredded)
        db.session.add(
            MediaShred(
                media_id=media_id,
                storage_key=_sha(shredded),
                outcome="no_violation",
                retention_days=30,
            )
        )
        db.session.commit()
    destination = tmp_path / "moved"
    result = runner.invoke(args=["media", "migrate", "--to", destination.as_uri()])
    assert COUNTS.format(1, 0, 0, 0) in result.stdout, result.output
    assert not EncryptedFileStore(destination, MEDIA_KEY).exists(_sha(shredded))


def test_bad_targets_are_refused_without_echoing_them(app, runner):
    result = runner.invoke(args=["media", "migrate", "--to", "ftp://ops:hunter22@host/x"])
    assert result.exit_code == 2 and "unsupported scheme 'ftp'" in result.output
    assert "hunter22" not in result.output
    result = runner.invoke(args=["media", "migrate", "--to", "s3://ops:hunter22@bucket/x"])
    assert result.exit_code == 2 and "hunter22" not in result.output
    itself = Path(app.config["MEDIA_DIR"]).resolve().as_uri()
    result = runner.invoke(args=["media", "migrate", "--to", itself])
    assert result.exit_code == 2 and "the configured store itself" in result.output
    assert _migrate_events(app) == []


def test_a_target_bucket_that_does_not_exist_fails_every_object(app, client, runner, s3_endpoint):
    _report(app, client, [make_image(71), make_image(72)])
    app.config["S3_ENDPOINT_URL"] = s3_endpoint
    result = runner.invoke(args=["media", "migrate", "--to", "s3://no-such-bucket-here/x"])
    assert result.exit_code == 1, result.output
    assert COUNTS.format(0, 0, 0, 2) in result.stdout
    assert "failed (unavailable 2)" in result.stderr
    assert "now set" not in result.output
