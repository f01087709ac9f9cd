"""Hostile input never ends in a 500 (issue 10, finding 16): unstorable JSON strings and numbers,
ids beyond 64 bits in URLs, and database errors that would log report text."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert
from sqlalchemy.exc import IntegrityError

from moderation.core.db import make_engine
from tests.factories import login, make_platform, make_user, post_report, report_body

HUGE_ID = "9" * 40


def _error(response) -> str:
    body = response.get_json()
    assert set(body) == {"error", "message"}, body
    return body["error"]


def _with_context_number(text: str) -> bytes:
    body = report_body()
    body["content"]["context"] = {"member_count": 12345}
    return json.dumps(body).encode().replace(b"12345", text.encode())


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(report_body(comment="\ud800")).encode(),
        json.dumps(report_body(comment="a\udfffb")).encode(),
        json.dumps(report_body(content={"text": "x", "context": {"\ud800": "k"}})).encode(),
        _with_context_number("1e999"),
        _with_context_number("-1e999"),
    ],
    ids=["lone-high", "lone-low", "in-a-key", "1e999", "-1e999"],
)
def test_unstorable_json_is_a_400(app, client, raw):
    acme = make_platform(app)
    response = post_report(client, acme, raw)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert _error(response) == "malformed_json"


def test_paired_surrogates_are_ordinary_text(app, client):
    acme = make_platform(app)
    raw = json.dumps(report_body(comment="\U0001f600 me")).encode()
    assert b"\\ud83d\\ude00" in raw  # json.dumps escapes it as a surrogate pair
    assert post_report(client, acme, raw).status_code == 202


def test_mastodon_route_refuses_a_lone_surrogate_too(app, client):
    from moderation.intake.signatures import sign_hub

    secret = "mastodon-shared-secret-0123456789"
    make_platform(app, "masto", kind="mastodon", secret=secret)
    raw = b'{"event": "report.created", "object": {"id": "\\ud800"}}'
    response = client.post(
        "/api/v1/platforms/masto/mastodon",
        data=raw,
        headers={"X-Hub-Signature": sign_hub(secret, raw), "content-type": "application/json"},
    )
    assert response.status_code == 400 and _error(response) == "malformed_json"


def test_ids_beyond_64_bits_are_404_not_500(app, client):
    acme = make_platform(app)
    status = client.get(
        f"/api/v1/platforms/acme/reports/{HUGE_ID}",
        headers={"Authorization": f"Bearer {acme.api_token}"},
    )
    assert status.status_code == 404 and _error(status) == "not_found"
    make_user(app, "admin@example.org", role="admin")
    assert login(client, "admin@example.org").status_code == 302
    for path in (
        f"/review/{HUGE_ID}",
        f"/review/{2**64}",
        f"/review/media/{HUGE_ID}/preview.jpg",
        f"/review/media/{2**63}/preview.jpg",
        f"/admin/banks/{HUGE_ID}",
        f"/review/{'9' * 5000}",
    ):
        assert client.get(path).status_code == 404, path
    # Beyond a 32-bit INTEGER column (PostgreSQL casts the parameter and fails), and the
    # largest id such a row can have, are both an ordinary miss, on both databases.
    for report_id in (2**31, 2**31 - 1, 2**63 - 1):
        assert client.get(f"/review/{report_id}").status_code == 404, report_id
        assert client.get(f"/review/media/{report_id}/preview.jpg").status_code == 404


def test_ids_and_pages_in_query_strings_beyond_range_are_ignored(app, client):
    acme = make_platform(app)
    report_id = post_report(client, acme, report_body()).get_json()["id"]
    make_user(app, "admin@example.org", role="admin")
    assert login(client, "admin@example.org").status_code == 302
    for path in (
        f"/review/{report_id}?reveal={HUGE_ID}",
        f"/review/{report_id}?reveal={2**31}",
        f"/?page={HUGE_ID}",
        f"/?page={2**40}",
        "/?page=-5",
        f"/admin/banks/?page={HUGE_ID}",
    ):
        assert client.get(path).status_code == 200, path


def test_bigint_ids_keep_their_whole_range(app):
    from werkzeug.exceptions import NotFound

    urls = app.url_map.bind("localhost")
    endpoint, args = urls.match(f"/admin/banks/entries/{2**40}/status", method="POST")
    assert args == {"entry_id": 2**40}
    with pytest.raises(NotFound):
        urls.match(f"/admin/banks/entries/{2**63}/status", method="POST")


def test_database_errors_never_carry_bound_values(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'e.sqlite3'}")
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("v", String))
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(table).values(id=1, v="first"))
    with pytest.raises(IntegrityError) as caught, engine.begin() as connection:
        connection.execute(insert(table).values(id=1, v="her phone number 010-1234-5678"))
    assert "010-1234-5678" not in str(caught.value)
    engine.dispose()
