"""End to end: a signed POST, a real RQ worker on real Redis, the report on the queue page."""

from __future__ import annotations

import base64
import io
import re
from datetime import timedelta

from PIL import Image
from sqlalchemy import select, update

from models import Media, MediaState, Report, ReportStatus, utcnow
from moderation.core.db import db
from moderation.media.imaging import exact_hashes, hash_image
from tests.factories import (
    login,
    make_image,
    make_platform,
    make_user,
    post_report,
    report_body,
    run_worker_burst,
)


def _status(client, platform, report_id):
    return client.get(
        f"/api/v1/platforms/{platform.slug}/reports/{report_id}",
        headers={"Authorization": f"Bearer {platform.api_token}"},
    )


def test_report_flows_through_worker_to_queue_page(app, client):
    platform = make_platform(app)
    make_user(app)
    image = make_image(11)
    report_id = post_report(client, platform, report_body([image])).get_json()["id"]

    run_worker_burst(app)

    status = _status(client, platform, report_id).get_json()
    _, expected = hash_image(image)
    assert status["status"] == "queued"
    assert status["media"][0]["pdq"] == expected.pdq
    assert status["media"][0]["sha256"] == expected.sha256
    assert status["media"][0]["state"] == "hashed"
    assert 0 < status["priority"] <= 100 and status["priority_reasons"]
    assert status["decision"] is None and "cluster_id" in status

    login(client)
    page = client.get("/").get_data(as_text=True)
    assert f'data-report-id="{report_id}"' in page
    # The queue shows a blurred thumbnail and the media count, never a raw hash.
    assert re.search(r'class="queue-thumb" src="/review/media/\d+/preview\.jpg"', page)
    assert "1 medium" in page and expected.pdq not in page


def test_status_api_needs_the_platforms_token(app, client):
    platform = make_platform(app)
    other = make_platform(app, slug="other")
    report_id = post_report(client, platform, report_body()).get_json()["id"]
    assert client.get(f"/api/v1/platforms/{platform.slug}/reports/{report_id}").status_code == 401
    wrong = client.get(
        f"/api/v1/platforms/{platform.slug}/reports/{report_id}",
        headers={"Authorization": f"Bearer {other.api_token}"},
    )
    assert wrong.status_code == 401
    # Another platform asking about this report through its own URL learns nothing.
    hidden = _status(client, other, report_id)
    assert hidden.status_code == 404 and hidden.get_json()["error"] == "not_found"
    assert _status(client, platform, 999999).status_code == 404


def test_queue_is_ordered_by_priority(app, client):
    platform = make_platform(app)
    make_user(app)
    low = post_report(client, platform, report_body(category="other")).get_json()["id"]
    high = post_report(
        client, platform, report_body(category="ncii", reporter={"kind": "victim", "id": "v"})
    ).get_json()["id"]
    run_worker_burst(app)
    login(client)
    page = client.get("/").get_data(as_text=True)
    assert page.index(f'data-report-id="{high}"') < page.index(f'data-report-id="{low}"')


def test_corrupt_and_non_image_media_fail_readably_and_report_reaches_review(app, client):
    platform = make_platform(app)
    good = make_image(12)
    truncated = good[: len(good) // 3]
    bomb = io.BytesIO()
    Image.new("L", (9000, 9000)).save(bomb, format="PNG")  # 81 Mpx, over the 50 Mpx limit
    body = report_body([b"%PDF-1.4 not an image", truncated, bomb.getvalue(), good])
    report_id = post_report(client, platform, body).get_json()["id"]

    run_worker_burst(app)

    media = _status(client, platform, report_id).get_json()["media"]
    assert [m["state"] for m in media] == ["failed", "failed", "failed", "hashed"]
    assert "not an image" in media[0]["error"]
    assert "corrupt or truncated" in media[1]["error"]
    assert "pixel limit" in media[2]["error"]
    assert _status(client, platform, report_id).get_json()["status"] == "queued"


def test_triage_is_idempotent(app, client, redis):
    platform = make_platform(app)
    report_id = post_report(client, platform, report_body([make_image(13)])).get_json()["id"]
    from moderation.media.store import media_store_for
    from moderation.triage.pipeline import TriageSettings, triage_report

    run_worker_burst(app)
    with app.app_context():
        assert (
            triage_report(db.session, media_store_for(app.config), report_id, TriageSettings())
            == "skipped"
        )


def _post_while_redis_is_down(app, client, redis, platform, *bodies) -> list[int]:
    """Post `bodies` (accepted, but nothing enqueued), bring Redis back and age the reports
    past the sweeper's threshold; returns their ids."""
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    app.extensions.pop("moderation.redis", None)
    ids = [post_report(client, platform, body).get_json()["id"] for body in bodies]
    app.extensions["moderation.redis"] = redis
    with app.app_context():
        db.session.execute(
            update(Report)
            .where(Report.id.in_(ids))
            .values(received_at=utcnow() - timedelta(minutes=10))
        )
        db.session.commit()
    return ids


def test_redis_outage_is_recovered_by_the_sweeper(app, client, redis):
    platform = make_platform(app)
    (report_id,) = _post_while_redis_is_down(
        app, client, redis, platform, report_body([make_image(14)])
    )
    assert redis.llen("rq:queue:triage") == 0

    result = app.test_cli_runner().invoke(args=["sweep", "--json"])
    assert result.exit_code == 0, result.output
    assert f"{report_id}" in result.output
    run_worker_burst(app)
    assert _status(client, platform, report_id).get_json()["status"] == "queued"


def test_sweeper_skips_fresh_and_done_reports(app, client, redis):
    platform = make_platform(app)
    post_report(client, platform, report_body())
    from moderation.triage.sweeper import SweepSettings, sweep_pending

    with app.app_context():
        assert (
            sweep_pending(
                db.session, redis, SweepSettings(timedelta(minutes=2), timedelta(minutes=15))
            )
            == []
        )


def test_stale_triaging_report_is_rescued(app, client, redis):
    platform = make_platform(app)
    report_id = post_report(client, platform, report_body([make_image(15)])).get_json()["id"]
    redis.flushdb()  # the job was lost with the worker that died
    with app.app_context():
        old = utcnow() - timedelta(hours=1)
        db.session.execute(
            update(Report)
            .where(Report.id == report_id)
            .values(status=ReportStatus.TRIAGING, triage_started_at=old)
        )
        db.session.commit()
    assert app.test_cli_runner().invoke(args=["sweep"]).exit_code == 0
    run_worker_burst(app)
    with app.app_context():
        report = db.session.get(Report, report_id)
        assert report.status == ReportStatus.QUEUED
        assert (
            db.session.execute(select(Media.state).where(Media.report_id == report_id)).scalar_one()
            == MediaState.HASHED
        )


def test_job_arguments_are_ids_only(app, client, redis):
    platform = make_platform(app)
    report_id = post_report(client, platform, report_body([make_image(16)])).get_json()["id"]
    from rq.job import Job
    from rq.serializers import JSONSerializer

    job = Job.fetch(f"triage-report-{report_id}", connection=redis, serializer=JSONSerializer)
    assert job.args == [report_id] or job.args == (report_id,)
    assert job.timeout and job.failure_ttl and job.result_ttl
    raw = redis.hgetall(f"rq:job:{job.id}")
    blob = b" ".join(raw.values())
    assert base64.b64encode(make_image(16))[:40] not in blob
    assert b"social.example" not in blob


def test_media_by_url_is_fetched_with_custody(app, client, monkeypatch):
    """A URL is fetched through the SSRF-safe fetcher (a local server, allow-listed as a test
    host) into the encrypted store; the resolved address and headers are kept as custody."""
    import http.server
    import socket
    import threading

    image = make_image(21)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(image)))
            self.end_headers()
            self.wfile.write(image)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: (
            real("127.0.0.1", *a, **k) if host == "media.test" else real(host, *a, **k)
        ),
    )
    app.config["MEDIA_FETCH_ALLOW_HOSTS"] = f"media.test:{port}"
    platform = make_platform(app)
    body = report_body()
    body["content"]["media"] = [
        {"url": f"http://media.test:{port}/a.jpg"},
        {"url": "http://10.0.0.1/x.jpg"},
    ]
    try:
        report_id = post_report(client, platform, body).get_json()["id"]
        run_worker_burst(app)
    finally:
        server.shutdown()
    media = _status(client, platform, report_id).get_json()["media"]
    _, expected = hash_image(image)
    assert media[0]["state"] == "hashed" and media[0]["pdq"] == expected.pdq
    assert media[1]["state"] == "failed"
    assert (
        media[1]["error"]
        == "could not fetch the media: the media host resolved to a private or reserved address"
    )
    assert "10.0.0.1" not in media[1]["error"]
    with app.app_context():
        row = db.session.execute(
            select(Media).where(Media.report_id == report_id, Media.position == 0)
        ).scalar_one()
        assert row.custody["resolved_address"] == "127.0.0.1"
        assert row.custody["headers"]["content-type"] == "image/jpeg"


def test_sweeper_replaces_a_finished_job_of_a_report_still_pending(app, client, redis):
    """A report whose finished job left it pending (e.g. restored from a backup) is re-enqueued
    under the same job id instead of being skipped as a duplicate."""
    from moderation.core.queueing import enqueue_triage

    platform = make_platform(app)
    report_id = post_report(client, platform, report_body([make_image(17)])).get_json()["id"]
    run_worker_burst(app)
    assert enqueue_triage(redis, report_id) is not None  # finished job: replaced
    assert enqueue_triage(redis, report_id) is None  # now waiting: not enqueued twice
    assert redis.llen("rq:queue:triage") == 1


def test_report_whose_triage_keeps_dying_reaches_review_with_failed_media(app, client, redis):
    """After TRIAGE_MAX_ATTEMPTS claims (each one a worker that died mid-job), the media are
    failed with a reason instead of being decoded again, and the report reaches review."""
    platform = make_platform(app)
    report_id = post_report(client, platform, report_body([make_image(18)])).get_json()["id"]
    redis.flushdb()
    with app.app_context():
        db.session.execute(
            update(Report)
            .where(Report.id == report_id)
            .values(
                status=ReportStatus.TRIAGING,
                triage_started_at=utcnow() - timedelta(hours=1),
                triage_attempts=app.config["TRIAGE_MAX_ATTEMPTS"],
            )
        )
        db.session.commit()
    assert app.test_cli_runner().invoke(args=["sweep"]).exit_code == 0
    run_worker_burst(app)
    status = _status(client, platform, report_id).get_json()
    assert status["status"] == "queued"
    assert status["media"][0]["state"] == "failed"
    assert "repeated worker failures" in status["media"][0]["error"]


def test_triage_scores_a_category_raised_while_it_ran(app, client, monkeypatch):
    """An upstream update raising the category after the claim (here: just before phase two
    takes the cluster lock) is scored, not overwritten by the category read at the claim."""
    from moderation.media.store import media_store_for
    from moderation.triage import clusters
    from moderation.triage import pipeline as triage

    platform = make_platform(app)
    body = report_body([make_image(15)])
    body["category"] = "other"
    report_id = post_report(client, platform, body).get_json()["id"]
    lock_clusters = clusters.lock_clusters

    def raise_then_lock(session):
        # What a concurrent Mastodon update commits on its own connection meanwhile.
        with app.extensions["moderation.db"][0].begin() as connection:
            connection.execute(update(Report).where(Report.id == report_id).values(category="ncii"))
        lock_clusters(session)

    monkeypatch.setattr(clusters, "lock_clusters", raise_then_lock)
    with app.app_context():
        settings = triage.TriageSettings(classifier_model=None)
        assert triage.triage_report(db.session, media_store_for(app.config), report_id, settings)
        report = db.session.get(Report, report_id)
        codes = {reason["code"] for reason in report.priority_reasons}
        assert report.category == "ncii"
        assert "category.ncii" in codes and "category.other" not in codes


def test_victims_and_trusted_flaggers_are_triaged_first(app, client, redis):
    """Under a backlog of ordinary reports, a victim's and a trusted flagger's reports jump the
    line: their own queue, drained first by a worker serving "triage"."""
    acme = make_platform(app)
    ngo = make_platform(app, "ngo", kind="trusted_flagger")
    ordinary = [post_report(client, acme, report_body()).get_json()["id"] for _ in range(3)]
    victim_body = report_body(reporter={"kind": "victim", "id": "v-1"})
    victim = post_report(client, acme, victim_body).get_json()["id"]
    flagged = post_report(client, ngo, report_body()).get_json()["id"]
    assert redis.llen("rq:queue:triage") == 3 and redis.llen("rq:queue:triage_urgent") == 2

    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from moderation.core.queueing import queue, worker_queue_names

    with app.app_context():
        names = worker_queue_names(["triage"])
        assert names == ("triage_urgent", "triage")
        SimpleWorker(
            [queue(name, redis) for name in names], connection=redis, serializer=JSONSerializer
        ).work(burst=True)
        queued = dict(
            db.session.execute(
                select(Report.id, Report.queued_at).where(Report.status == ReportStatus.QUEUED)
            ).all()
        )
    assert len(queued) == 5
    assert max(queued[victim], queued[flagged]) <= min(queued[i] for i in ordinary)


def test_the_sweeper_puts_an_urgent_report_back_on_the_urgent_queue(app, client, redis):
    from moderation.triage.sweeper import SweepSettings, sweep_pending

    platform = make_platform(app)
    body = report_body(reporter={"kind": "victim", "id": "v-1"})
    (report_id,) = _post_while_redis_is_down(app, client, redis, platform, body)
    with app.app_context():
        assert sweep_pending(
            db.session, redis, SweepSettings(timedelta(minutes=2), timedelta(minutes=15))
        ) == [report_id]
    assert redis.llen("rq:queue:triage_urgent") == 1 and redis.llen("rq:queue:triage") == 0


def _queued_job_ids(redis, name: str) -> set[str]:
    return {job_id.decode() for job_id in redis.lrange(f"rq:queue:{name}", 0, -1)}


def test_a_known_copy_of_a_banked_file_is_triaged_first(app, client, redis):
    """An inline medium whose exact bytes (MD5 or SHA-256) are an active entry of an enabled
    bank sends its report to the urgent queue at intake; a withdrawn entry, a disabled bank, a
    PDQ-only entry or no entry at all leaves it in the ordinary queue."""
    from moderation.banks.service import (
        add_to_bank,
        create_bank,
        set_bank_enabled,
        set_entry_status,
    )

    by_md5, by_sha, withdrawn, disabled, by_pdq, plain = (make_image(300 + i) for i in range(6))
    sha256, md5 = exact_hashes(by_md5)
    with app.app_context():
        victims = create_bank(db.session, "victims", kind="victim_submitted", actor_kind="system")
        other = create_bank(db.session, "off", actor_kind="system")
        add_to_bank(db.session, victims.id, "md5", md5.upper(), source="test")
        add_to_bank(db.session, victims.id, "sha256", exact_hashes(by_sha)[0], source="test")
        gone = add_to_bank(db.session, victims.id, "md5", exact_hashes(withdrawn)[1], source="t")
        set_entry_status(db.session, gone.id, "withdrawn", actor_user_id=None, actor_kind="system")
        add_to_bank(db.session, other.id, "md5", exact_hashes(disabled)[1], source="test")
        set_bank_enabled(db.session, other.id, False, actor_user_id=None, actor_kind="system")
        add_to_bank(db.session, victims.id, "pdq", hash_image(by_pdq)[1].pdq, source="test")

    platform = make_platform(app)
    ids = {
        name: post_report(client, platform, report_body(media)).get_json()["id"]
        for name, media in {
            # The known copy rides along with an unknown picture: one match is enough.
            "md5": [plain, by_md5],
            "sha": [by_sha],
            "withdrawn": [withdrawn],
            "disabled": [disabled],
            "pdq": [by_pdq],
            "plain": [plain],
            "text": [],
        }.items()
    }
    urgent, ordinary = _queued_job_ids(redis, "triage_urgent"), _queued_job_ids(redis, "triage")
    assert urgent == {f"triage-report-{ids['md5']}", f"triage-report-{ids['sha']}"}
    assert ordinary == {
        f"triage-report-{ids[name]}" for name in ("withdrawn", "disabled", "pdq", "plain", "text")
    }
    # The exact hashes are known from intake on (triage later writes the same values).
    status = _status(client, platform, ids["md5"]).get_json()
    assert status["status"] == "received"
    assert status["media"][1]["md5"] == md5
    assert status["media"][1]["sha256"] == sha256


def test_the_sweeper_puts_a_known_copy_back_on_the_urgent_queue(app, client, redis):
    from moderation.banks.service import add_to_bank, create_bank
    from moderation.triage.sweeper import SweepSettings, sweep_pending

    image = make_image(320)
    with app.app_context():
        bank = create_bank(db.session, "confirmed", kind="confirmed", actor_kind="system")
        add_to_bank(db.session, bank.id, "md5", exact_hashes(image)[1], source="test")
    platform = make_platform(app)
    known, unknown = _post_while_redis_is_down(
        app, client, redis, platform, report_body([image]), report_body([make_image(321)])
    )
    with app.app_context():
        swept = sweep_pending(
            db.session, redis, SweepSettings(timedelta(minutes=2), timedelta(minutes=15))
        )
    assert swept == [known, unknown]
    assert _queued_job_ids(redis, "triage_urgent") == {f"triage-report-{known}"}
    assert _queued_job_ids(redis, "triage") == {f"triage-report-{unknown}"}


def test_an_undecided_lane_never_fails_an_accepted_report(app, client, redis, monkeypatch):
    """If the database fails between the commit and the lane look-up, the report (already
    stored) is still accepted and waits in the ordinary queue."""
    from sqlalchemy.exc import OperationalError

    from moderation.intake import service as intake

    def database_gone(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("connection lost"))

    monkeypatch.setattr(intake, "urgent_reports", database_gone)
    platform = make_platform(app)
    answer = post_report(client, platform, report_body([make_image(330)]))
    assert answer.status_code == 202
    report_id = answer.get_json()["id"]
    assert _queued_job_ids(redis, "triage") == {f"triage-report-{report_id}"}
    with app.app_context():
        assert db.session.get(Report, report_id).status == ReportStatus.RECEIVED
