"""History and search: decided reports found again by every key a person may hold (id, external
id, content URL, receipt number, SHA-256, MD5, a PDQ near the picture), filtered by outcome,
moderator and category; a restricted report is never found by someone who may not know it."""

from __future__ import annotations

import hashlib
import io
import re

from PIL import Image

from moderation.media.imaging import hash_image
from tests.factories import (
    csrf_token,
    login,
    make_image,
    make_platform,
    make_user,
    post_report,
    report_body,
    run_worker_burst,
)
from tests.outcomes.outcome_factories import decide

PICTURE = make_image(71, (480, 360))


def _found(client, query: str, **filters: str) -> list[int]:
    html = client.get("/review/history/", query_string={"q": query, **filters}).get_data(
        as_text=True
    )
    return [int(i) for i in re.findall(r'id="history-(\d+)"', html)]


def _portal_report(app) -> tuple[int, str]:
    client = app.test_client()
    page = client.get("/portal/report?lang=en").get_data(as_text=True)
    client.post(
        "/portal/report",
        data={
            "csrf_token": csrf_token(page),
            "category": "ncii",
            "links": "https://social.example/p/portal",
            "description": "it is me",
        },
        content_type="multipart/form-data",
    )
    receipt = client.get("/portal/report/received").get_data(as_text=True)
    number = re.findall(r"<code>([^<]+)</code>", receipt)[0]
    from sqlalchemy import func, select

    from models import Report
    from moderation.core.db import db

    with app.app_context():
        report_id = db.session.execute(select(func.max(Report.id))).scalar_one()
    return report_id, number


def test_every_key_finds_its_report(app, client, tmp_path):
    app.config["MEDIA_INDEX_DIR"] = str(tmp_path / "media-index")
    app.config["BANK_INDEX_DIR"] = str(tmp_path / "bank-index")
    app.config["CLASSIFIER_MODEL"] = ""
    platform = make_platform(app)
    body = report_body([PICTURE], external_id="post-777")
    body["content"]["url"] = "https://social.example/p/777"
    target = post_report(client, platform, body).get_json()["id"]
    other = post_report(client, platform, report_body([make_image(72)])).get_json()["id"]
    portal_id, receipt = _portal_report(app)
    run_worker_burst(app)
    for report_id in (target, other, portal_id):
        decide(app, report_id, "remove.ncii" if report_id == target else "no_violation")
    make_user(app, "lead@example.org", "senior")
    login(client, "mod@example.org")

    assert set(_found(client, "")) == {target, other, portal_id}
    assert _found(client, str(target)) == [target]
    assert _found(client, "post-777") == [target]
    assert _found(client, "https://social.example/p/777") == [target]
    assert _found(client, receipt.lower().replace("-", " ")) == [portal_id]
    assert _found(client, hashlib.sha256(PICTURE).hexdigest()) == [target]
    assert _found(client, hashlib.md5(PICTURE).hexdigest()) == [target]  # noqa: S324
    # A PDQ of a re-encoded, slightly cropped copy finds the picture by distance.
    copy = io.BytesIO()
    Image.open(io.BytesIO(PICTURE)).crop((4, 4, 476, 356)).save(copy, format="PNG", optimize=True)
    near = hash_image(copy.getvalue())[1].pdq
    assert _found(client, near) == [target]
    # Filters.
    assert set(_found(client, "", action="no_violation")) == {other, portal_id}
    assert _found(client, "", action="remove.") == [target]
    assert _found(client, "", moderator="nobody@example.org") == []
    assert set(_found(client, "", moderator="mod@example.org")) == {target, other, portal_id}
    assert _found(client, "no-such-external-id") == []


def test_a_restricted_report_is_not_found_by_a_moderator(app, client, tmp_path):
    app.config["MEDIA_INDEX_DIR"] = str(tmp_path / "media-index")
    app.config["CLASSIFIER_MODEL"] = ""
    platform = make_platform(app)
    hidden = post_report(
        client, platform, report_body([PICTURE], category="csam_suspected", external_id="x-1")
    ).get_json()["id"]
    run_worker_burst(app)
    make_user(app, "lead@example.org", "senior")
    decide(app, hidden, "remove.ncii", email="lead@example.org")
    make_user(app, "mod@example.org")
    login(client, "mod@example.org")
    assert _found(client, "x-1") == [] and _found(client, str(hidden)) == []
    assert _found(client, hashlib.sha256(PICTURE).hexdigest()) == []
    senior = app.test_client()
    login(senior, "lead@example.org")
    assert _found(senior, "x-1") == [hidden]
