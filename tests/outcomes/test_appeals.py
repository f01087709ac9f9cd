"""Appeals end to end: a removal through the decision service, the appeal through the signed API
(replayed too), routing that never picks the first decider, a reversal on the seniors' page that
withdraws the banked hashes, and both outcomes called back to the platform."""

from __future__ import annotations

import json

from sqlalchemy import select

from models import Appeal, BankEntry, CallbackDelivery, EntryStatus
from moderation.core.db import db
from moderation.outcomes import appeals
from tests.cases.case_factories import fast_triage
from tests.factories import (
    csrf_token,
    login,
    make_image,
    make_platform,
    make_user,
    post_report,
    report_body,
    run_worker_burst,
    signed_headers,
)
from tests.outcomes.outcome_factories import decide


def _setup(app, client, tmp_path):
    fast_triage(app, tmp_path)
    platform = make_platform(app)
    report_id = post_report(client, platform, report_body([make_image(61)])).get_json()["id"]
    run_worker_burst(app)
    return platform, report_id


def _appeal(client, platform, report_id: int, body: dict, msg_id: str = "msg_appeal_1"):
    raw = json.dumps(body).encode()
    return client.post(
        f"/api/v1/platforms/{platform.slug}/reports/{report_id}/appeal",
        data=raw,
        headers=signed_headers(platform.webhook_secret, raw, msg_id=msg_id),
    )


def test_an_appeal_is_routed_away_from_the_first_decider_and_reversal_withdraws(
    app, client, tmp_path
):
    platform, report_id = _setup(app, client, tmp_path)
    first = make_user(app, "first@example.org", "senior")
    other = make_user(app, "second@example.org", "senior")
    decide(app, report_id, "remove.ncii", email="first@example.org")

    answer = _appeal(client, platform, report_id, {"statement": "that photo is of me, I consent"})
    assert answer.status_code == 202, answer.get_json()
    again = _appeal(client, platform, report_id, {"statement": "that photo is of me, I consent"})
    assert again.status_code == 202 and again.get_json() == answer.get_json()  # a replay
    duplicate = _appeal(client, platform, report_id, {}, msg_id="msg_appeal_2")
    assert duplicate.status_code == 409 and duplicate.get_json()["error"] == "appeal_open"
    with app.app_context():
        appeal = db.session.execute(select(Appeal)).scalar_one()
        assert appeal.assigned_user_id == other != first

    # The first decider does not even see it; the other senior reverses it on the page.
    decider = app.test_client()
    login(decider, "first@example.org")
    assert "that photo is of me" not in decider.get("/review/appeals/").get_data(as_text=True)
    reviewer = app.test_client()
    login(reviewer, "second@example.org")
    page = reviewer.get("/review/appeals/?lang=en").get_data(as_text=True)
    assert "that photo is of me, I consent" in page and "assigned to you" in page
    refused = reviewer.post(
        f"/review/appeals/{appeal.id}",
        data={"csrf_token": csrf_token(page), "outcome": "reversed"},
        follow_redirects=True,
    )
    assert "a reversal needs a reason" in refused.get_data(as_text=True)
    reviewer.post(
        f"/review/appeals/{appeal.id}",
        data={"csrf_token": csrf_token(page), "outcome": "reversed", "note": "consent shown"},
    )
    with app.app_context():
        assert db.session.get(Appeal, appeal.id).state == "reversed"
        statuses = set(db.session.execute(select(BankEntry.status)).scalars())
        assert statuses == {EntryStatus.WITHDRAWN}


def test_appeal_outcomes_are_called_back(app, client, tmp_path):
    from tests.outcomes.outcome_factories import receiver
    from tests.outcomes.test_callbacks import _cli, _dispatch_and_work

    platform, report_id = _setup(app, client, tmp_path)
    make_user(app, "second@example.org", "senior")
    with receiver() as hook:
        app.config["CALLBACK_ALLOW_HOSTS"] = f"127.0.0.1:{hook.port}"
        _cli(app, "platform", "set-callback", platform.slug, hook.url, "--json")
        decide(app, report_id, "remove.ncii", email="first@example.org")
        assert _appeal(client, platform, report_id, {}).status_code == 202
        with app.app_context():
            appeal_id = db.session.execute(select(Appeal.id)).scalar_one()
            from models import User

            senior = db.session.execute(
                select(User).where(User.email == "second@example.org")
            ).scalar_one()
            appeals.decide_appeal(db.session, appeal_id, senior, "upheld")
        _dispatch_and_work(app)
    types = sorted(json.loads(request["body"])["type"] for request in hook.seen)
    assert types == ["appeal.decided", "decision.final"]
    outcome = next(
        json.loads(r["body"])["data"] for r in hook.seen if b"appeal.decided" in r["body"]
    )
    assert outcome["outcome"] == "upheld" and outcome["appeal_id"] == appeal_id
    with app.app_context():
        assert len(db.session.execute(select(CallbackDelivery)).all()) == 2


def test_only_a_standing_removal_of_ones_own_report_can_be_appealed(app, client, tmp_path):
    platform, report_id = _setup(app, client, tmp_path)
    other = make_platform(app, "other")
    assert _appeal(client, platform, report_id, {}).get_json()["error"] == "nothing_to_appeal"
    decide(app, report_id, "no_violation")
    assert _appeal(client, platform, report_id, {}, "m2").status_code == 409
    assert _appeal(client, other, report_id, {}, "m3").status_code == 404
    bad = _appeal(client, platform, report_id, {"statement": 5}, "m4")
    assert bad.status_code == 422
    forged = client.post(
        f"/api/v1/platforms/{platform.slug}/reports/{report_id}/appeal", data=b"{}"
    )
    assert forged.status_code == 401
