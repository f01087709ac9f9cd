"""Mastodon's admin webhook: a faithful report.created payload, signature, mapping, dedupe, PII."""

from __future__ import annotations

import copy
import json
from typing import Any

from sqlalchemy import func, select

from models import AuditEvent, Media, Report, SealedContact, WebhookDelivery
from moderation.intake.mastodon_payload import html_to_text, map_category
from moderation.intake.signatures import sign_hub
from tests.factories import make_platform, post_report, report_body

SECRET = "mastodon-shared-secret-0123456789"


def _admin_account(account_id: str, username: str, domain: str | None, email: str, ip: str) -> dict:
    """An Admin::Account as REST::Admin::AccountSerializer writes it."""
    acct = username if domain is None else f"{username}@{domain}"
    host = domain or "mastodon.example"
    return {
        "id": account_id,
        "username": username,
        "domain": domain,
        "created_at": "2026-01-02T03:04:05.000Z",
        "email": email,
        "ip": ip,
        "confirmed": True,
        "suspended": False,
        "silenced": False,
        "sensitized": False,
        "disabled": False,
        "approved": True,
        "locale": "ko",
        "invite_request": None,
        "ips": [{"ip": ip, "used_at": "2026-11-19T22:10:00.000Z"}],
        "role": {"id": "-99", "name": "", "permissions": "0", "color": "", "highlighted": False},
        "account": {
            "id": account_id,
            "username": username,
            "acct": acct,
            "display_name": username.title(),
            "locked": False,
            "bot": False,
            "created_at": "2026-01-02T00:00:00.000Z",
            "note": "<p>hello</p>",
            "url": f"https://{host}/@{username}",
            "avatar": f"https://{host}/avatars/original/missing.png",
            "followers_count": 3,
            "following_count": 1,
            "statuses_count": 12,
            "emojis": [],
            "fields": [],
        },
    }


def mastodon_payload(event: str = "report.created", **overrides: Any) -> dict:
    """A report.created delivery as Mastodon's TriggerWebhookWorker sends it."""
    target = _admin_account(
        "109876", "poster", "other.example", "poster@mail.example", "203.0.113.7"
    )
    report = {
        "id": "4321",
        "action_taken": False,
        "action_taken_at": None,
        "category": "violation",
        "comment": "These are photos of me taken without my consent.",
        "forwarded": False,
        "created_at": "2026-11-20T09:00:00.000Z",
        "updated_at": "2026-11-20T09:00:00.000Z",
        "account": _admin_account("1001", "reporter", None, "victim@mail.example", "198.51.100.23"),
        "target_account": target,
        "assigned_account": None,
        "action_taken_by_account": None,
        "statuses": [
            {
                "id": "113000000000000001",
                "created_at": "2026-11-20T08:30:00.000Z",
                "in_reply_to_id": None,
                "sensitive": True,
                "spoiler_text": "CW: 지인",
                "visibility": "public",
                "language": "ko",
                "uri": "https://other.example/users/poster/statuses/113000000000000001",
                "url": "https://other.example/@poster/113000000000000001",
                "content": (
                    '<p>look at her &amp; <a href="https://other.example/tags/x"'
                    ' class="mention hashtag" rel="tag">#<span>x</span></a><br>second line</p>'
                    "<p>얘 누군지 알아?</p><script>alert(1)</script>"
                ),
                "account": target["account"],
                "media_attachments": [
                    {
                        "id": "5001",
                        "type": "image",
                        "url": "https://mastodon.example/system/cache/media_attachments/files/5001/original/a.jpg",
                        "preview_url": "https://mastodon.example/system/cache/5001/small/a.jpg",
                        "remote_url": "https://other.example/system/media/5001.jpg",
                        "description": None,
                        "blurhash": "UFBWY:8_0Jxu",
                        "meta": {"original": {"width": 640, "height": 480}},
                    },
                    {
                        "id": "5002",
                        "type": "video",
                        "url": None,
                        "preview_url": None,
                        "remote_url": "https://other.example/system/media/5002.mp4",
                        "description": None,
                    },
                    {"id": "5003", "type": "audio", "url": "https://mastodon.example/a.mp3"},
                ],
                "mentions": [],
                "tags": [],
                "emojis": [],
            }
        ],
        "rules": [
            {
                "id": "3",
                "text": "No non-consensual intimate imagery",
                "hint": "Including sexual deepfakes of real people",
            }
        ],
    }
    report.update(overrides)
    return {"event": event, "created_at": "2026-11-20T09:00:01.000Z", "object": report}


def post_mastodon(client, slug: str, payload: dict | bytes, secret: str = SECRET):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(
        f"/api/v1/platforms/{slug}/mastodon",
        data=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature": sign_hub(secret, raw)},
    )


def _count(app, model) -> int:
    from moderation.core.db import db

    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_report_created_is_mapped_onto_our_report(app, client):
    make_platform(app, "masto", kind="mastodon", secret=SECRET)
    response = post_mastodon(client, "masto", mastodon_payload())
    assert response.status_code == 202, response.get_json()
    from moderation.core.db import db

    with app.app_context():
        report = db.session.get(Report, response.get_json()["id"])
        assert report.external_id == "4321"
        assert report.category == "ncii"  # the cited rule names non-consensual intimate imagery
        assert report.reporter_kind == "user" and report.reporter_id == "1001"
        assert report.posted_by_id == "109876"
        assert report.posted_by_handle == "poster@other.example"
        assert report.content_url == "https://other.example/@poster/113000000000000001"
        assert report.content_text == "CW: 지인\nlook at her & #x\nsecond line\n\n얘 누군지 알아?"
        assert "alert" not in report.content_text and "<" not in report.content_text
        assert report.comment.startswith("These are photos")
        assert [m.source_url for m in report.media] == [
            "https://mastodon.example/system/cache/media_attachments/files/5001/original/a.jpg",
            "https://other.example/system/media/5002.mp4",
        ]
        assert report.context["skipped_media"] == 1  # the audio attachment
        assert report.context["rule_ids"] == ["3"]
        # No PII kept by default: not sealed, not in the report, not in the audit log.
        assert db.session.execute(select(func.count()).select_from(SealedContact)).scalar_one() == 0
        stored = json.dumps(
            [report.context, report.comment, report.content_text]
            + [e.details for e in db.session.execute(select(AuditEvent)).scalars()]
        )
        for secret_value in (
            "victim@mail.example",
            "198.51.100.23",
            "poster@mail.example",
            "203.0.113.7",
        ):
            assert secret_value not in stored


def test_reporter_pii_is_sealed_only_when_the_operator_opts_in(app, client):
    app.config["MASTODON_KEEP_REPORTER_PII"] = True
    make_platform(app, "masto", kind="mastodon", secret=SECRET)
    response = post_mastodon(client, "masto", mastodon_payload())
    assert response.status_code == 202
    from moderation.config import decode_media_key
    from moderation.core.db import db
    from moderation.core.sealing import contact_key, read_sealed_contacts

    with app.app_context():
        row = db.session.execute(select(SealedContact)).scalar_one()
        assert b"victim@mail.example" not in row.ciphertext
        key = contact_key(decode_media_key(app.config["MEDIA_KEY"]))
        [opened] = read_sealed_contacts(db.session, key, row.report_id, "mastodon_reporter")
        assert opened["email"] == "victim@mail.example"
        assert opened["ips"] == [{"ip": "198.51.100.23", "used_at": "2026-11-19T22:10:00.000Z"}]
        assert "poster@mail.example" not in json.dumps(opened)


def test_redelivery_is_a_replay_and_update_joins_the_same_report(app, client):
    make_platform(app, "masto", kind="mastodon", secret=SECRET)
    first = post_mastodon(client, "masto", mastodon_payload())
    again = post_mastodon(client, "masto", mastodon_payload())
    assert first.status_code == again.status_code == 202
    assert first.get_json() == again.get_json()
    updated = mastodon_payload("report.updated", updated_at="2026-11-20T10:00:00.000Z")
    response = post_mastodon(client, "masto", updated)
    assert response.status_code == 202
    assert response.get_json()["id"] == first.get_json()["id"]
    assert _count(app, Report) == 1 and _count(app, WebhookDelivery) == 2


def test_unknown_report_first_seen_as_updated_is_created(app, client):
    make_platform(app, "masto", kind="mastodon", secret=SECRET)
    response = post_mastodon(client, "masto", mastodon_payload("report.updated", id="77"))
    assert response.status_code == 202
    assert _count(app, Report) == 1


def test_other_events_are_acknowledged_and_ignored(app, client):
    make_platform(app, "masto", kind="mastodon", secret=SECRET)
    response = post_mastodon(client, "masto", {"event": "account.approved", "object": {"id": "1"}})
    assert response.status_code == 200 and response.get_json() == {"status": "ignored"}
    assert _count(app, Report) == 0


def test_bad_or_missing_signature_is_401(app, client):
    make_platform(app, "masto", kind="mastodon", secret=SECRET)
    response = post_mastodon(client, "masto", mastodon_payload(), secret="wrong-secret")
    assert response.status_code == 401 and response.get_json()["error"] == "bad_signature"
    raw = json.dumps(mastodon_payload()).encode()
    response = client.post("/api/v1/platforms/masto/mastodon", data=raw)
    assert response.status_code == 401 and response.get_json()["error"] == "missing_signature"
    assert _count(app, Report) == 0


def test_routes_are_kind_specific(app, client):
    make_platform(app, "masto", kind="mastodon", secret=SECRET)
    standard = make_platform(app, "acme")
    # A standard platform cannot use the Mastodon route, even with a valid hub signature.
    response = post_mastodon(client, "acme", mastodon_payload(), secret=standard.webhook_secret)
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    # A Mastodon platform cannot use the standard route.
    fake = copy.copy(standard)
    fake.slug, fake.webhook_secret = "masto", SECRET
    response = post_report(client, fake, report_body())
    assert response.status_code == 404
    assert _count(app, Report) == 0


def test_malformed_bodies_are_clear_4xx(app, client):
    make_platform(app, "masto", kind="mastodon", secret=SECRET)
    response = post_mastodon(client, "masto", b"{nope")
    assert response.status_code == 400 and response.get_json()["error"] == "malformed_json"
    response = post_mastodon(client, "masto", {"event": "report.created", "object": "x"})
    assert response.status_code == 422 and response.get_json()["error"] == "invalid_type"
    response = post_mastodon(
        client, "masto", {"event": "report.created", "object": {"category": "spam"}}
    )
    assert response.status_code == 422 and response.get_json()["error"] == "missing_field"
    empty = mastodon_payload(statuses=[], target_account={"id": "9"})
    response = post_mastodon(client, "masto", empty)
    assert response.status_code == 422 and response.get_json()["error"] == "missing_content"
    response = post_mastodon(client, "masto", mastodon_payload(statuses="nope"))
    assert response.status_code == 422
    assert _count(app, Report) == 0


def test_account_only_report_uses_the_profile_url(app, client):
    make_platform(app, "masto", kind="mastodon", secret=SECRET)
    response = post_mastodon(
        client, "masto", mastodon_payload(statuses=[], category="spam", rules=[])
    )
    assert response.status_code == 202
    from moderation.core.db import db

    with app.app_context():
        report = db.session.get(Report, response.get_json()["id"])
        assert report.content_url == "https://other.example/@poster"
        assert report.category == "other"
        assert db.session.execute(select(func.count()).select_from(Media)).scalar_one() == 0


def test_category_mapping_table():
    assert map_category("spam", [{"text": "No non-consensual imagery"}]) == "other"
    assert map_category("violation", []) == "other"
    assert map_category("legal", []) == "other"
    assert map_category("violation", [{"text": "No doxxing or personal information"}]) == "doxxing"
    assert map_category("violation", [{"text": "딥페이크 금지"}]) == "synthetic_sexual"
    assert (
        map_category("violation", [{"text": "Rule", "hint": "nothing involving a minor"}])
        == "csam_suspected"
    )


def test_html_to_text_uses_a_parser():
    assert html_to_text("<p>a &lt;b&gt; <br/>c</p><p>d</p>") == "a <b>\nc\n\nd"
    assert html_to_text("<style>p{}</style><p>x</p>") == "x"
    assert html_to_text("<p>unclosed <b>bold") == "unclosed bold"


def _text_only(**overrides: Any) -> dict[str, Any]:
    """A report without media attachments, so triage needs no fetch."""
    payload = mastodon_payload(**overrides)
    for status in payload["object"]["statuses"]:
        status["media_attachments"] = []
    return payload


def _upstream_events(app) -> list[dict]:
    from moderation.core.db import db

    with app.app_context():
        return [
            event.details
            for event in db.session.execute(
                select(AuditEvent)
                .where(AuditEvent.action == "report.upstream_updated")
                .order_by(AuditEvent.id)
            ).scalars()
        ]


def _codes(app, report_id: int) -> dict[str, int]:
    from moderation.core.db import db

    with app.app_context():
        reasons = db.session.get(Report, report_id).priority_reasons
        return {reason["code"]: reason["points"] for reason in reasons}


def test_update_raises_the_category_and_rescores_but_never_lowers_it(app, client):
    from tests.factories import run_worker_burst

    make_platform(app, "masto", kind="mastodon", secret=SECRET)
    created = post_mastodon(client, "masto", _text_only(category="spam"))
    report_id = created.get_json()["id"]
    run_worker_burst(app)  # triaged and queued as "other"
    assert "category.other" in _codes(app, report_id)

    # A Mastodon moderator re-files it under the rule against non-consensual intimate imagery.
    raised = _text_only(category="violation", updated_at="2026-11-20T10:00:00.000Z")
    response = post_mastodon(
        client, "masto", mastodon_payload("report.updated", **raised["object"])
    )
    assert response.status_code == 202 and response.get_json()["id"] == report_id
    from moderation.core.db import db

    with app.app_context():
        report = db.session.get(Report, report_id)
        assert report.category == "ncii"
        assert report.context["mastodon_category"] == "violation"
    [event] = _upstream_events(app)
    assert event["category"] == {"from": "other", "to": "ncii"}
    assert event["refreshed"] == ["mastodon_category"]
    run_worker_burst(app)  # the re-score job the update queued
    codes = _codes(app, report_id)
    assert "category.ncii" in codes and "category.other" not in codes
    with app.app_context():
        assert db.session.get(Report, report_id).priority == sum(codes.values())

    # Re-filed as spam later: the upstream category is noted, ours is not lowered.
    lowered = _text_only(category="spam", updated_at="2026-11-20T11:00:00.000Z")
    again = post_mastodon(client, "masto", mastodon_payload("report.updated", **lowered["object"]))
    assert again.status_code == 202
    with app.app_context():
        assert db.session.get(Report, report_id).category == "ncii"
    assert _upstream_events(app)[-1]["upstream_category"] == "other"
    assert "category" not in _upstream_events(app)[-1]

    # A replay of the first update changes nothing and records nothing.
    replay = post_mastodon(client, "masto", mastodon_payload("report.updated", **raised["object"]))
    assert replay.get_json() == response.get_json()
    assert len(_upstream_events(app)) == 2


def test_update_to_child_abuse_hides_the_report_from_moderators(app, client):
    from moderation.accounts.permissions import visible_reports_clause
    from moderation.core.db import db
    from tests.factories import make_user

    make_platform(app, "masto", kind="mastodon", secret=SECRET)
    moderator_id = make_user(app, "mod@example.org", role="moderator")
    report_id = post_mastodon(client, "masto", _text_only()).get_json()["id"]  # ncii

    def visible() -> bool:
        with app.app_context():
            from models import User
            from moderation.accounts.permissions import Principal
            from moderation.settings import settings_for

            roles = settings_for(app).accounts.csam_roles
            moderator = Principal(db.session.get(User, moderator_id), roles)
            query = select(Report.id).where(Report.id == report_id)
            return (
                db.session.execute(query.where(visible_reports_clause(moderator))).first()
                is not None
            )

    assert visible()
    child_rule = [{"id": "9", "text": "No child sexual abuse material", "hint": ""}]
    update = _text_only(rules=child_rule, updated_at="2026-11-20T10:00:00.000Z")
    update["object"]["statuses"].append(
        {"id": "113000000000000002", "content": "<p>more</p>", "media_attachments": []}
    )
    response = post_mastodon(
        client, "masto", mastodon_payload("report.updated", **update["object"])
    )
    assert response.status_code == 202
    assert not visible()
    [event] = _upstream_events(app)
    assert event["category"] == {"from": "ncii", "to": "csam_suspected"}
    assert event["statuses_not_fetched"] == 1 and event["refreshed"] == ["rule_ids"]
    assert "more" not in json.dumps(event)


def test_every_category_has_a_severity():
    from models import CATEGORY_SEVERITY
    from moderation.intake.report_input import CATEGORIES

    assert sorted(CATEGORIES) == sorted(CATEGORY_SEVERITY)
    assert CATEGORY_SEVERITY[-1] == "csam_suspected" and CATEGORY_SEVERITY[0] == "other"


def test_a_stale_read_cannot_lower_a_category_raised_meanwhile(app, client):
    """Two updates racing: the second was read before the first committed a higher category;
    its conditional UPDATE leaves the higher one in place."""
    from sqlalchemy import update

    from moderation.core.db import db
    from moderation.intake.mastodon import apply_update
    from moderation.intake.mastodon_payload import parse_mastodon

    make_platform(app, "masto", kind="mastodon", secret=SECRET)
    report_id = post_mastodon(client, "masto", _text_only(category="spam")).get_json()["id"]
    ncii = parse_mastodon(mastodon_payload("report.updated", updated_at="2026-11-20T10:00:00Z"), 20)
    with app.app_context():
        stale = db.session.get(Report, report_id)
        assert stale.category == "other"
        with app.extensions["moderation.db"][0].begin() as connection:
            connection.execute(
                update(Report).where(Report.id == report_id).values(category="csam_suspected")
            )
        applied = apply_update(db.session, stale, ncii.report_input)
        db.session.commit()
        assert applied.raised_status is None
        assert applied.changes["upstream_category"] == "ncii"
        db.session.expire_all()
        assert db.session.get(Report, report_id).category == "csam_suspected"
