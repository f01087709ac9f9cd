"""Suspected-CSAM restriction follows the content (security finding 1): the same bytes filed by
another platform as NCII, or a report in the same cluster, is hidden from moderators wherever
it would appear (item page, preview, reveal, queue, cluster lists), and raising one report
hides its duplicates at once. Built through real intake and triage."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import select, update

from models import Media, Report
from moderation.core.db import db
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

PICTURE = make_image(21, (320, 240))


def _filed(app, client, tmp_path) -> tuple[int, int, int]:
    """A files the picture as suspected CSAM, B the same bytes as NCII, C something else."""
    app.config["MEDIA_INDEX_DIR"] = str(tmp_path / "media-index")
    a, b = make_platform(app, "alpha"), make_platform(app, "beta")
    first = post_report(client, a, report_body([PICTURE], category="csam_suspected"))
    second = post_report(client, b, report_body([PICTURE], category="ncii"))
    other = post_report(client, b, report_body([make_image(22)], category="ncii"))
    run_worker_burst(app)
    return first.get_json()["id"], second.get_json()["id"], other.get_json()["id"]


def _comparable(html: str, path: str) -> str:
    html = html.replace(path, "PATH")
    return re.sub(r'(name="csrf_token" value|name="csrf-token" content)="[^"]*"', r"\1=TOKEN", html)


def _media_id(app, report_id: int) -> int:
    with app.app_context():
        return db.session.execute(select(Media.id).where(Media.report_id == report_id)).scalar_one()


def test_the_same_bytes_filed_as_ncii_are_hidden_from_moderators(app, client, tmp_path):
    csam, duplicate, unrelated = _filed(app, client, tmp_path)
    make_user(app, "mod@example.org")
    make_user(app, "lead@example.org", role="senior")
    moderator = app.test_client()
    login(moderator, "mod@example.org")

    for report_id in (csam, duplicate):
        assert moderator.get(f"/review/{report_id}").status_code == 404
    media_id = _media_id(app, duplicate)
    assert moderator.get(f"/review/media/{media_id}/preview.jpg").status_code == 404
    queue = moderator.get("/").get_data(as_text=True)
    assert re.findall(r'data-report-id="(\d+)"', queue) == [str(unrelated)]
    token = csrf_token(queue)
    reveal = moderator.post(f"/review/media/{media_id}/reveal", data={"csrf_token": token})
    assert reveal.status_code == 404

    senior = app.test_client()
    login(senior, "lead@example.org")
    page = senior.get(f"/review/{duplicate}").get_data(as_text=True)
    assert f"#{csam}" in page.split("Same content (cluster)")[1].split("</ul>")[0]


def test_raising_one_report_hides_its_cluster_at_once(app, client, tmp_path):
    app.config["MEDIA_INDEX_DIR"] = str(tmp_path / "media-index")
    platform = make_platform(app)
    first = post_report(client, platform, report_body([PICTURE])).get_json()["id"]
    # A re-encoded copy joins the cluster by PDQ, not by bytes.
    copy = make_image(21, (320, 240), fmt="PNG")
    second = post_report(client, platform, report_body([copy])).get_json()["id"]
    run_worker_burst(app)
    with app.app_context():
        clusters = {db.session.get(Report, i).cluster_id for i in (first, second)}
    assert len(clusters) == 1 and None not in clusters
    make_user(app)
    login(client)
    assert client.get(f"/review/{second}").status_code == 200
    with app.app_context():
        # What an upstream update does (intake/mastodon.apply_update): raise one report.
        db.session.execute(
            update(Report).where(Report.id == first).values(category="csam_suspected")
        )
        db.session.commit()
    assert client.get(f"/review/{second}").status_code == 404
    assert str(second) not in re.findall(
        r'data-report-id="(\d+)"', client.get("/").get_data(as_text=True)
    )


def test_a_hidden_report_answers_exactly_like_a_missing_one(app, client, tmp_path):
    """Security finding 8: "not found" (hidden) and "no such report" (missing) differed."""
    csam, _, _ = _filed(app, client, tmp_path)
    make_user(app)
    login(client)
    media_id = _media_id(app, csam)
    for hidden_path, missing_path in (
        (f"/review/{csam}", "/review/987654"),
        (f"/review/media/{media_id}/preview.jpg", "/review/media/987654/preview.jpg"),
    ):
        hidden, missing = client.get(hidden_path), client.get(missing_path)
        assert hidden.status_code == missing.status_code == 404
        # The pages differ only where they name their own address (the language links) and in
        # the CSRF token, which is signed with the time of each request.
        as_hidden = _comparable(hidden.get_data(as_text=True), hidden_path)
        assert as_hidden == _comparable(missing.get_data(as_text=True), missing_path)


def test_a_match_on_a_csam_bank_restricts_the_content_and_its_copies(app, client, tmp_path):
    """The CSAM-kind bank rule: a report filed as NCII whose picture is on a known-CSAM hash
    list is restricted like a report filed as suspected CSAM, and so is a re-encoded copy in
    its cluster; the match ranks above every other bank kind."""
    from moderation.banks.service import add_to_bank, create_bank

    app.config["MEDIA_INDEX_DIR"] = str(tmp_path / "media-index")
    with app.app_context():
        bank = create_bank(db.session, "hotline list", kind="csam")
        add_to_bank(db.session, bank.id, "sha256", hashlib.sha256(PICTURE).hexdigest(), source="t")
    platform = make_platform(app)
    listed = post_report(client, platform, report_body([PICTURE], category="ncii"))
    copy = post_report(
        client, platform, report_body([make_image(21, (320, 240), fmt="PNG")], category="ncii")
    )
    unrelated = post_report(client, platform, report_body([make_image(22)], category="ncii"))
    run_worker_burst(app)
    listed_id, copy_id = listed.get_json()["id"], copy.get_json()["id"]
    with app.app_context():
        row = db.session.get(Report, listed_id)
        assert row.priority_reasons[0]["code"] == "bank.csam"
    make_user(app, "mod@example.org")
    make_user(app, "lead@example.org", role="senior")
    login(client, "mod@example.org")
    for report_id in (listed_id, copy_id):
        assert client.get(f"/review/{report_id}").status_code == 404
    assert client.get(f"/review/media/{_media_id(app, copy_id)}/preview.jpg").status_code == 404
    queue = client.get("/").get_data(as_text=True)
    assert re.findall(r'data-report-id="(\d+)"', queue) == [str(unrelated.get_json()["id"])]
    senior = app.test_client()
    login(senior, "lead@example.org")
    assert senior.get(f"/review/{listed_id}").status_code == 200
