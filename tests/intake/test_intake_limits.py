"""The platform webhook under hostile input and load: rate limits per platform, context and media
validation, secret rotation, the status API with a decision, and no custody data leaking."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from sqlalchemy import func, select

from models import Decision, Media, Platform, Report, WebhookDelivery, utcnow
from tests.factories import make_image, make_platform, post_report, report_body

MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\x00" * 64


def _count(app, model) -> int:
    from moderation.core.db import db

    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _error(response) -> str:
    body = response.get_json()
    assert set(body) == {"error", "message"}, body
    return body["error"]


def test_platform_rate_limit_is_per_slug_with_retry_after(app, client):
    app.config["RATE_LIMIT_PLATFORM"] = "3/minute"
    acme, other = make_platform(app, "acme"), make_platform(app, "other")
    for _ in range(3):
        assert post_report(client, acme, report_body()).status_code == 202
    blocked = post_report(client, acme, report_body())
    assert blocked.status_code == 429
    assert _error(blocked) == "too_many_requests"
    assert int(blocked.headers["Retry-After"]) > 0
    # Another platform has its own budget, even from the same address.
    assert post_report(client, other, report_body()).status_code == 202
    # The Mastodon route shares the platform's budget (and answers 429 before any other check).
    assert client.post("/api/v1/platforms/acme/mastodon", data=b"{}").status_code == 429
    assert _count(app, Report) == 4


def test_unsigned_floods_spend_their_own_budget_not_the_platforms(app, client):
    """Finding 4: unsigned POSTs and bad bearer tokens used to spend the platform's budget, so
    anyone could make the next signed delivery get 429. Failures now count per address."""
    app.config["RATE_LIMIT_PLATFORM"] = "5/minute"
    app.config["RATE_LIMIT_STATUS"] = "5/minute"
    app.config["RATE_LIMIT_UNAUTHENTICATED"] = "20/minute"
    acme = make_platform(app, "acme")
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    for _ in range(10):  # both routes share one budget of failures per address
        unsigned = client.post("/api/v1/platforms/acme/reports", data=b"{}", environ_base=attacker)
        assert unsigned.status_code == 401
        token = client.get(
            "/api/v1/platforms/acme/reports/1",
            headers={"Authorization": "Bearer nope"},
            environ_base=attacker,
        )
        assert token.status_code == 401
    # The attacker's address is now refused outright, before any signature check...
    refused = client.post("/api/v1/platforms/acme/reports", data=b"{}", environ_base=attacker)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # ...while the platform still has its whole budget, from its own hosts.
    for _ in range(5):
        answer = post_report(client, acme, report_body())
        assert answer.status_code == 202, answer.get_json()
    assert post_report(client, acme, report_body()).status_code == 429
    headers = {"Authorization": f"Bearer {acme.api_token}"}
    assert client.get("/api/v1/platforms/acme/reports/1", headers=headers).status_code == 200


def test_status_rate_limit(app, client):
    app.config["RATE_LIMIT_STATUS"] = "2/minute"
    acme = make_platform(app, "acme")
    headers = {"Authorization": f"Bearer {acme.api_token}"}
    for _ in range(2):
        assert client.get("/api/v1/platforms/acme/reports/1", headers=headers).status_code == 404
    limited = client.get("/api/v1/platforms/acme/reports/1", headers=headers)
    assert limited.status_code == 429 and limited.headers["Retry-After"]


def test_several_media_inline_and_by_url_with_video(app, client):
    acme = make_platform(app)
    body = report_body([make_image(1), MP4])
    body["content"]["media"].append({"data": base64.b64encode(WEBM).decode(), "filename": "c.webm"})
    body["content"]["media"].append({"url": "https://cdn.example/v.mov", "filename": "v.mov"})
    response = post_report(client, acme, body)
    assert response.status_code == 202
    from moderation.core.db import db

    with app.app_context():
        media = db.session.execute(select(Media).order_by(Media.position)).scalars().all()
        assert [m.mime for m in media] == ["image/jpeg", "video/mp4", "video/webm", None]
        assert media[3].source_url == "https://cdn.example/v.mov" and media[3].storage_key is None


def test_context_fields_are_validated(app, client):
    acme = make_platform(app)
    good = report_body()
    good["content"]["context"] = {
        "chat_id": -1001234,
        "channel_name": "지인방",
        "member_count": 0,
        "language": "ko",
    }
    response = post_report(client, acme, good)
    assert response.status_code == 202
    from moderation.core.db import db

    with app.app_context():
        report = db.session.get(Report, response.get_json()["id"])
        assert report.context == {
            "chat_id": "-1001234",
            "channel_name": "지인방",
            "member_count": 0,
            "language": "ko",
        }
    bad_contexts = [
        {"member_count": -1},
        {"member_count": "2400"},
        {"member_count": True},
        {"chat_id": ["x"]},
        {"channel_id": None},
        {"channel_name": 5},
        {"nested": {"a": 1}},
        {f"k{i}": i for i in range(21)},
        "not-an-object",
    ]
    for context in bad_contexts:
        body = report_body()
        body["content"]["context"] = context
        response = post_report(client, acme, body)
        assert response.status_code == 422, context
        assert _error(response) in ("invalid_type", "invalid_context", "missing_field")
    assert _count(app, Report) == 1


def test_hostile_bodies_get_json_4xx_and_store_nothing(app, client):
    acme = make_platform(app)
    cases: list[tuple[object, int, str]] = [
        (b'{"category": NaN}', 400, "malformed_json"),
        (b"[" * 100_000, 400, "malformed_json"),
        (b"\xff\xfe", 400, "malformed_json"),
        ([1, 2], 422, "invalid_type"),
        (report_body(category=7), 422, "unknown_category"),
        (report_body(category=None), 422, "missing_field"),
        (report_body(content={"media": "x"}), 422, "invalid_type"),
        (report_body(comment="nul\x00byte"), 422, "invalid_type"),
        (report_body(reported_at="0001-01-01T00:00:00+14:00"), 422, "invalid_type"),
        (report_body(reported_at="yesterday"), 422, "invalid_type"),
        (report_body(reporter={"kind": "god"}), 422, "invalid_reporter"),
        (report_body(external_id="x" * 256), 422, "too_long"),
    ]
    for url in (
        "ftp://example.org/a.jpg",
        "javascript:alert(1)",
        "http://",
        "file:///etc/passwd",
        "http://[::1",
    ):
        body = report_body()
        body["content"]["media"] = [{"url": url}]
        cases.append((body, 422, "invalid_url"))
    too_many = report_body()
    too_many["content"]["media"] = [{"url": f"https://cdn.example/{i}.jpg"} for i in range(21)]
    cases.append((too_many, 422, "too_many_media"))
    both = report_body()
    both["content"]["media"] = [{"url": "https://cdn.example/a.jpg", "data": "AAAA"}]
    cases.append((both, 422, "invalid_media"))
    for body, status, code in cases:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = post_report(client, acme, raw)
        assert response.status_code == status, (
            body if len(raw) < 300 else raw[:50],
            response.get_json(),
        )
        assert _error(response) == code
    app.config["MAX_MEDIA_BYTES"] = 100
    assert _error(post_report(client, acme, report_body([make_image(2)]))) == "media_too_large"
    assert _count(app, Report) == 0 and _count(app, WebhookDelivery) == 0


def test_wrong_content_type_and_methods_answer_json(app, client):
    make_platform(app)
    response = client.get("/api/v1/platforms/acme/reports")
    assert response.status_code == 405 and set(response.get_json()) == {"error", "message"}
    response = client.get("/api/v1/platforms/acme/reports/not-a-number")
    assert response.status_code == 404 and set(response.get_json()) == {"error", "message"}


def test_both_secrets_verify_during_rotation_and_the_old_stops_after_expiry(app, client, runner):
    acme = make_platform(app)
    result = runner.invoke(args=["platform", "rotate-secret", "acme", "--json"])
    assert result.exit_code == 0, result.output
    new_secret = json.loads(result.output)["webhook_secret"]
    assert new_secret != acme.webhook_secret
    old = post_report(client, acme, report_body())
    assert old.status_code == 202
    acme_new = type(acme)(acme.slug, new_secret, acme.api_token)
    assert post_report(client, acme_new, report_body()).status_code == 202
    from moderation.core.db import db

    with app.app_context():
        platform = db.session.execute(select(Platform).where(Platform.slug == "acme")).scalar_one()
        platform.previous_secret_expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    expired = post_report(client, acme, report_body())
    assert expired.status_code == 401 and _error(expired) == "bad_signature"
    assert post_report(client, acme_new, report_body()).status_code == 202


def test_status_api_shows_decision_and_never_custody(app, client):
    acme, other = make_platform(app, "acme"), make_platform(app, "other")
    body = report_body([make_image(3)])
    body["content"]["media"].append({"url": "https://cdn.example/secret-path.jpg"})
    report_id = post_report(client, acme, body).get_json()["id"]
    from moderation.core.db import db

    with app.app_context():
        media = (
            db.session.execute(select(Media).where(Media.report_id == report_id)).scalars().all()
        )
        media[1].custody = {"resolved_address": "192.0.2.10", "final_url": "https://cdn.example/x"}
        db.session.add(Decision(report_id=report_id, action="remove", reason="ncii"))
        db.session.commit()
    response = client.get(
        f"/api/v1/platforms/acme/reports/{report_id}",
        headers={"Authorization": f"Bearer {acme.api_token}"},
    )
    assert response.status_code == 200
    document = response.get_json()
    assert document["decision"]["action"] == "remove" and document["decision"]["reason"] == "ncii"
    assert document["decision"]["decided_at"]
    text = response.get_data(as_text=True)
    assert "192.0.2.10" not in text and "cdn.example" not in text and "custody" not in text
    # Another platform's token cannot see it, and its own slug does not help.
    foreign = client.get(
        f"/api/v1/platforms/other/reports/{report_id}",
        headers={"Authorization": f"Bearer {other.api_token}"},
    )
    assert foreign.status_code == 404 and _error(foreign) == "not_found"
    wrong_slug = client.get(
        f"/api/v1/platforms/acme/reports/{report_id}",
        headers={"Authorization": f"Bearer {other.api_token}"},
    )
    assert wrong_slug.status_code == 401


# Run in a process of its own, like one gunicorn worker whose Redis is down: the limiter is
# module-global state, and its "storage is dead" mode must not leak into other tests.
_REDIS_DOWN_SCRIPT = """
import json, sys
from types import SimpleNamespace
from moderation import create_app
from tests.factories import post_report, report_body

given = json.load(sys.stdin)
app = create_app(given["config"])
platform = SimpleNamespace(**given["platform"])
with app.test_client() as client:
    answers = [post_report(client, platform, report_body()) for _ in range(4)]
print(json.dumps([[a.status_code, a.get_json(), a.headers.get("Retry-After")] for a in answers]))
"""


def test_platform_rate_limit_holds_while_redis_is_down(app, client):
    """With Redis unreachable the limiter counts in the process's memory: still a 429, never a
    free pass, and intake itself keeps answering."""
    import subprocess
    import sys
    from pathlib import Path

    acme = make_platform(app, "acme")
    config = {
        **{
            key: app.config[key] for key in ("DATABASE_URL", "SECRET_KEY", "MEDIA_KEY", "MEDIA_DIR")
        },
        "TESTING": True,
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "RATE_LIMIT_PLATFORM": "3/minute",
    }
    given = {
        "config": config,
        "platform": {"slug": acme.slug, "webhook_secret": acme.webhook_secret},
    }
    done = subprocess.run(
        [sys.executable, "-c", _REDIS_DOWN_SCRIPT],
        input=json.dumps(given),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert [status for status, _, _ in answers] == [202, 202, 202, 429]
    _, body, retry_after = answers[-1]
    assert body["error"] == "too_many_requests" and int(retry_after) > 0
    assert _count(app, Report) == 3
