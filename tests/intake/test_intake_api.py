"""The platform webhook: signatures, validation, idempotency, the outbox."""

from __future__ import annotations

import json
import threading
import time

from sqlalchemy import func, select

from models import Media, Report, ReportStatus, WebhookDelivery
from moderation.intake.signatures import sign_hub
from tests.factories import make_image, make_platform, post_report, report_body, signed_headers


def _count(app, model) -> int:
    from moderation.core.db import db

    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_signed_report_is_accepted_and_stored(app, client):
    platform = make_platform(app)
    response = post_report(client, platform, report_body([make_image(1)]))
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "received" and isinstance(body["id"], int)
    assert _count(app, Report) == 1 and _count(app, Media) == 1
    from moderation.core.db import db

    with app.app_context():
        assert db.session.get(Report, body["id"]).channel_id == "room-1"


def test_text_only_report_is_accepted(app, client):
    platform = make_platform(app)
    response = post_report(client, platform, report_body([], category="doxxing"))
    assert response.status_code == 202


def test_replay_returns_first_answer_and_creates_nothing(app, client):
    platform = make_platform(app)
    raw = json.dumps(report_body([make_image(2)])).encode()
    headers = signed_headers(platform.webhook_secret, raw, msg_id="msg_replay")
    first = client.post(f"/api/v1/platforms/{platform.slug}/reports", data=raw, headers=headers)
    second = client.post(f"/api/v1/platforms/{platform.slug}/reports", data=raw, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.get_json() == second.get_json()
    assert _count(app, Report) == 1 and _count(app, WebhookDelivery) == 1


def test_concurrent_replays_create_one_report(app):
    platform = make_platform(app)
    raw = json.dumps(report_body([make_image(3)])).encode()
    headers = signed_headers(platform.webhook_secret, raw, msg_id="msg_concurrent")
    answers: list[tuple[int, dict]] = []
    barrier = threading.Barrier(10)

    def deliver() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/v1/platforms/{platform.slug}/reports", data=raw, headers=headers
        )
        answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 10
    assert {status for status, _ in answers} == {202}, answers
    assert len({body["id"] for _, body in answers}) == 1
    assert _count(app, Report) == 1


def test_bad_signature_is_401(app, client):
    platform = make_platform(app)
    raw = json.dumps(report_body()).encode()
    headers = signed_headers("whsec_" + "A" * 32, raw)
    response = client.post(f"/api/v1/platforms/{platform.slug}/reports", data=raw, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "bad_signature"
    assert _count(app, Report) == 0


def test_stale_timestamp_is_401(app, client):
    platform = make_platform(app)
    response = post_report(client, platform, report_body(), timestamp=int(time.time()) - 301)
    assert response.status_code == 401
    assert response.get_json()["error"] == "stale_timestamp"


def test_missing_signature_headers_is_401(app, client):
    platform = make_platform(app)
    response = client.post(f"/api/v1/platforms/{platform.slug}/reports", json=report_body())
    assert response.status_code == 401
    assert set(response.get_json()) == {"error", "message"}


def test_rotated_signatures_any_valid_one_is_enough(app, client):
    platform = make_platform(app)
    raw = json.dumps(report_body()).encode()
    good = signed_headers(platform.webhook_secret, raw)
    good["webhook-signature"] = (
        "v1,AAAAbm90LXRoZS1yaWdodC1zaWduYXR1cmU= " + good["webhook-signature"]
    )
    response = client.post(f"/api/v1/platforms/{platform.slug}/reports", data=raw, headers=good)
    assert response.status_code == 202


def test_unknown_platform_answers_like_a_bad_signature(app, client):
    """Before authentication an unknown slug and a known one answer alike (401, same body), so
    the list of platforms cannot be probed; a signed delivery to the wrong route may learn 404."""
    platform = make_platform(app)
    raw = json.dumps(report_body()).encode()
    headers = signed_headers(platform.webhook_secret, raw)
    unknown = client.post("/api/v1/platforms/nobody/reports", data=raw, headers=headers)
    forged = signed_headers("whsec_" + "QUFB" * 11, raw)
    known = client.post(f"/api/v1/platforms/{platform.slug}/reports", data=raw, headers=forged)
    assert unknown.status_code == known.status_code == 401
    assert unknown.get_json() == known.get_json()
    for route in ("reports", "mastodon"):
        answer = client.post(f"/api/v1/platforms/nobody/{route}", data=raw, headers=headers)
        assert answer.status_code == 401, route
    # Correctly signed for a standard platform, but on the Mastodon route: now it may know.
    wrong_route = client.post(
        f"/api/v1/platforms/{platform.slug}/mastodon",
        data=raw,
        headers={"X-Hub-Signature": sign_hub(platform.webhook_secret, raw)},
    )
    assert wrong_route.status_code == 404


def test_malformed_json_is_400(app, client):
    platform = make_platform(app)
    response = post_report(client, platform, b"{not json")
    assert response.status_code == 400
    assert response.get_json()["error"] == "malformed_json"


def test_missing_category_is_422(app, client):
    platform = make_platform(app)
    body = report_body()
    del body["category"]
    response = post_report(client, platform, body)
    assert response.status_code == 422
    assert response.get_json() == {"error": "missing_field", "message": "category is required"}


def test_unknown_category_and_wrong_types_are_422(app, client):
    platform = make_platform(app)
    assert (
        post_report(client, platform, report_body(category="spam")).get_json()["error"]
        == "unknown_category"
    )
    body = report_body()
    body["content"]["media"] = "not-a-list"
    assert post_report(client, platform, body).status_code == 422
    body = report_body()
    body["content"]["media"] = [{"data": "%%%not base64%%%"}]
    response = post_report(client, platform, body)
    assert response.status_code == 422 and response.get_json()["error"] == "invalid_base64"
    assert _count(app, Report) == 0 and _count(app, WebhookDelivery) == 0


def test_oversize_body_is_413(app, client):
    platform = make_platform(app)
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    body = report_body([make_image(4, size=(800, 600), fmt="PNG")])
    response = post_report(client, platform, body)
    assert response.status_code == 413
    assert set(response.get_json()) == {"error", "message"}
    assert _count(app, Report) == 0


def test_redis_down_at_intake_still_answers_202(app, client):
    platform = make_platform(app)
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    app.extensions.pop("moderation.redis", None)
    response = post_report(client, platform, report_body([make_image(5)]))
    assert response.status_code == 202
    from moderation.core.db import db

    with app.app_context():
        report = db.session.get(Report, response.get_json()["id"])
        assert report.status == ReportStatus.RECEIVED


def test_database_down_is_503_with_retry_after(app, client):
    platform = make_platform(app)
    from moderation.core.db import make_engine

    engine, sessions = app.extensions["moderation.db"]
    broken = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    sessions.configure(bind=broken)
    try:
        response = post_report(client, platform, report_body())
    finally:
        sessions.remove()
        sessions.configure(bind=engine)
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.get_json()["error"] == "database_unavailable"


def test_replay_with_a_bad_signature_is_401_and_reveals_nothing(app, client):
    platform = make_platform(app)
    raw = json.dumps(report_body()).encode()
    headers = signed_headers(platform.webhook_secret, raw, msg_id="msg_known")
    assert client.post(f"/api/v1/platforms/{platform.slug}/reports", data=raw, headers=headers)
    forged = signed_headers("whsec_" + "A" * 32, raw, msg_id="msg_known")
    response = client.post(f"/api/v1/platforms/{platform.slug}/reports", data=raw, headers=forged)
    assert response.status_code == 401
    assert response.get_json()["error"] == "bad_signature"
    assert "id" not in response.get_json()


def test_overlong_delivery_id_is_401_not_a_database_error(app, client):
    platform = make_platform(app)
    response = post_report(client, platform, report_body(), msg_id="m" * 300)
    assert response.status_code == 401
    assert response.get_json()["error"] == "bad_signature"
    assert _count(app, Report) == 0


def test_pooled_connection_closed_by_the_server_is_replaced(app, client):
    """Without pool_pre_ping, the checkout hook must notice connections the server hung up."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from moderation.core.db import db

    platform = make_platform(app)  # leaves at least one idle connection in the pool
    with app.app_context():
        if not db.is_postgresql():
            return  # SQLite has no server to hang up; the PostgreSQL pass runs this test
        url = db.engine.url
    # Outside the pool under test; autocommit so each count sees a fresh activity snapshot.
    admin = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            others = (
                "FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            killed = connection.execute(text(f"SELECT pg_terminate_backend(pid) {others}")).all()
            assert killed
            deadline = time.monotonic() + 5
            while connection.execute(text(f"SELECT count(*) {others}")).scalar_one():
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        admin.dispose()
    response = post_report(client, platform, report_body())
    assert response.status_code == 202
    assert _count(app, Report) == 1
