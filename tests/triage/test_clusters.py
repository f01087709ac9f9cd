"""Clusters: copies join one cluster (exact, PDQ with rotations, video), links merge clusters,
two workers triaging two copies at the same moment still end in one cluster."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from models import AuditEvent, Cluster, Media, MediaHash, Report
from moderation.banks.index_refresh import IndexSource, RefreshingIndex
from moderation.core.db import db
from moderation.media.store import media_store_for
from moderation.triage import clusters
from moderation.triage import pipeline as triage
from tests.factories import make_image, make_platform, post_report, report_body, run_worker_burst
from tests.media.test_video import SEPIA, decode_frames, encode, render_clip, with_logo


def _private_index(app, tmp_path: Path) -> None:
    app.config["MEDIA_INDEX_DIR"] = str(tmp_path / "media-index")
    app.config["BANK_INDEX_DIR"] = str(tmp_path / "bank-index")
    app.config["CLASSIFIER_MODEL"] = ""  # not what these tests are about; keeps them fast


def _clusters_of(app, report_ids: list[int]) -> list[int | None]:
    with app.app_context():
        return [db.session.get(Report, report_id).cluster_id for report_id in report_ids]


def _reencode(data: bytes, fmt: str, transform=None) -> bytes:
    image = Image.open(io.BytesIO(data))
    if transform:
        image = transform(image)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def test_copies_and_rotations_join_one_cluster_and_others_do_not(app, client, tmp_path):
    _private_index(app, tmp_path)
    platform = make_platform(app)
    original = make_image(70, (640, 480))
    copies = [
        original,  # byte-identical: SHA-256
        _reencode(original, "PNG"),
        _reencode(original, "JPEG", lambda im: im.transpose(Image.Transpose.ROTATE_90)),
        _reencode(original, "JPEG", lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
    ]
    ids = [post_report(client, platform, report_body([data])).get_json()["id"] for data in copies]
    other = post_report(client, platform, report_body([make_image(71, (640, 480))])).get_json()[
        "id"
    ]

    run_worker_burst(app)

    found = _clusters_of(app, [*ids, other])
    assert len(set(found[:-1])) == 1 and found[0] is not None
    assert found[-1] != found[0]
    with app.app_context():
        cluster = db.session.get(Cluster, found[0])
        assert cluster.report_count == len(copies)
        methods = {s.label for s in db.session.get(Report, ids[1]).signals if s.kind == "cluster"}
        assert methods == {"sha256"} or "pdq" in methods


def test_a_media_linking_two_clusters_merges_them_into_the_smallest_id(app, client, tmp_path):
    _private_index(app, tmp_path)
    platform = make_platform(app)
    first, second = make_image(72), make_image(73)
    a = post_report(client, platform, report_body([first])).get_json()["id"]
    b = post_report(client, platform, report_body([second])).get_json()["id"]
    run_worker_burst(app)
    cluster_a, cluster_b = _clusters_of(app, [a, b])
    assert cluster_a != cluster_b

    both = post_report(
        client, platform, report_body([_reencode(first, "PNG"), _reencode(second, "PNG")])
    ).get_json()["id"]
    run_worker_burst(app)

    survivor = min(cluster_a, cluster_b)
    assert _clusters_of(app, [a, b, both]) == [survivor] * 3
    with app.app_context():
        gone = db.session.get(Cluster, max(cluster_a, cluster_b))
        assert gone.merged_into_id == survivor and gone.report_count == 0
        assert db.session.get(Cluster, survivor).report_count == 3
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "cluster.merged")
        ).scalar_one()
        assert event.details == {"merged": [max(cluster_a, cluster_b)], "by_report": both}


def test_two_workers_triaging_two_copies_at_once_end_in_one_cluster(
    app, client, tmp_path, monkeypatch
):
    """Both threads finish their analysis, meet at a barrier, then race for the cluster lock.
    Without the lock each would search before the other's hashes exist: two clusters."""
    _private_index(app, tmp_path)
    platform = make_platform(app)
    original = make_image(74, (640, 480))
    ids = [
        post_report(client, platform, report_body([data])).get_json()["id"]
        for data in (original, _reencode(original, "PNG"))
    ]
    barrier = threading.Barrier(2, timeout=20)
    real_lock = clusters.lock_clusters

    def lock_after_both_analysed(session):
        barrier.wait()
        real_lock(session)

    monkeypatch.setattr(clusters, "lock_clusters", lock_after_both_analysed)
    settings = triage.TriageSettings.from_config(app.config, app.instance_path)
    results: dict[int, str] = {}
    failures: list[BaseException] = []

    def work(report_id: int) -> None:
        try:
            with app.app_context():
                results[report_id] = triage.triage_report(
                    db.session, media_store_for(app.config), report_id, settings
                )
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread below
            failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(report_id,)) for report_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert results == {ids[0]: "done", ids[1]: "done"}
    found = _clusters_of(app, ids)
    assert found[0] is not None and found[0] == found[1]
    with app.app_context():
        assert db.session.get(Cluster, found[0]).report_count == 2
        assert db.session.execute(select(Cluster)).scalars().all()[0].id == found[0]


def _video_variants() -> tuple[bytes, dict[str, bytes], bytes]:
    source = render_clip(seed=1, seconds=4, size=(640, 480))
    original = encode(source)
    decoded = decode_frames(original)
    variants = {
        "grey": encode([frame.convert("L") for frame in decoded]),
        "sepia": encode([frame.convert("RGB", SEPIA) for frame in decoded]),
        "logo": encode([with_logo(frame) for frame in decoded]),
        "reencoded": encode(decoded, "mpeg4", "avi", size=(240, 180), bit_rate=100_000),
    }
    unrelated = encode(render_clip(seed=2, seconds=4, size=(640, 480)))
    return original, variants, unrelated


def test_video_copies_join_the_original_cluster_end_to_end(app, client, tmp_path):
    _private_index(app, tmp_path)
    platform = make_platform(app)
    original, variants, unrelated = _video_variants()
    first = post_report(client, platform, report_body([original])).get_json()["id"]
    run_worker_burst(app)
    names = sorted(variants)
    ids = [
        post_report(client, platform, report_body([variants[n]])).get_json()["id"] for n in names
    ]
    stranger = post_report(client, platform, report_body([unrelated])).get_json()["id"]
    run_worker_burst(app)

    found = _clusters_of(app, [first, *ids, stranger])
    assert found[:-1] == [found[0]] * (len(names) + 1), dict(
        zip(["original", *names], found, strict=True)
    )
    assert found[-1] != found[0]
    with app.app_context():
        media = db.session.execute(select(Media).where(Media.report_id == first)).scalar_one()
        assert media.kind == "video" and media.state == "hashed"
        assert media.duration_s == pytest.approx(4.0, abs=0.2)
        assert media.video_info["codec"] == "h264"
        frames = (
            db.session.execute(select(MediaHash).where(MediaHash.media_id == media.id))
            .scalars()
            .all()
        )
        assert [f.frame for f in frames] == [0, 24, 48, 72]
        for report_id in ids:
            matched = [s for s in db.session.get(Report, report_id).signals if s.kind == "cluster"]
            assert matched and matched[0].label == "video"
            assert matched[0].details["query_match_share"] >= 0.7
            assert matched[0].details["target_match_share"] >= 0.7


def _list_source(rows: list[tuple[int, str]]) -> IndexSource:
    """An index source reading (id, pdq hex) rows from a list the test can change."""
    return IndexSource(
        load_after=lambda _s, after, limit: (
            [i for i, _ in rows if i > after][:limit],
            [h for i, h in rows if i > after][:limit],
        ),
        max_id=lambda _s: max((i for i, _ in rows), default=None),
    )


def test_index_rebuilds_when_the_table_went_backwards(app, tmp_path):
    """A database restored or reset behind the index must not hide its rows."""
    rows: list[tuple[int, str]] = [(1, "0" * 64), (2, "f" * 64)]
    index = RefreshingIndex(tmp_path / "ix", _list_source(rows))
    assert index.search(None, ["f" * 64], 0) == [[(2, 0)]]
    rows[:] = [(1, "f" * 64)]  # reset: ids start again, other content
    assert index.search(None, ["f" * 64], 0) == [[(1, 0)]]


def _write_unreadable_version(directory) -> None:
    """Make CURRENT name a version another release wrote (a format this code refuses)."""
    import json

    current = (directory / "CURRENT").read_text()
    other = directory / "v-99999999999999999999-feedbeef"
    other.mkdir()
    meta = json.loads((directory / current / "meta.json").read_text())
    (other / "meta.json").write_text(json.dumps({**meta, "format": 999}))
    (directory / "CURRENT").write_text(other.name)


def test_index_rebuilds_when_a_refresh_finds_a_base_it_cannot_read(app, tmp_path):
    rows: list[tuple[int, str]] = [(1, "0" * 64), (2, "f" * 64)]
    index = RefreshingIndex(tmp_path / "ix", _list_source(rows))
    assert index.search(None, ["f" * 64], 0) == [[(2, 0)]]
    _write_unreadable_version(tmp_path / "ix")
    rows.append((3, "f" * 64))
    assert index.search(None, ["f" * 64], 0) == [[(2, 0), (3, 0)]]
    assert (tmp_path / "ix" / "CURRENT").read_text() != "v-99999999999999999999-feedbeef"
