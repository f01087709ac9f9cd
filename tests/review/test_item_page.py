"""The item page: what it shows, safe text highlighting, and audited reveals."""

from __future__ import annotations

import re

from sqlalchemy import select

from models import AuditEvent, Detection, MediaReveal
from moderation.core.db import db
from tests.factories import csrf_token, login, make_user
from tests.review.review_factories import image_report, make_report


def _media_id(html: str) -> int:
    return int(re.search(r'data-media-id="(\d+)"', html).group(1))


def test_item_page_shows_signals_text_cluster_and_related(app, client):
    make_user(app)
    text = "<script>alert(1)</script> 주소는 서울시 강남구 역삼동 123-4 입니다"
    report_id = image_report(
        app,
        text=text,
        cluster_id=7,
        signals=[
            {"kind": "text"},
            {
                "kind": "classifier",
                "label": "FACE_FEMALE",
                "score": 0.91,
                "detection": Detection("nudenet-320n", (10, 10, 50, 50), (320, 240)),
            },
            {"kind": "bank", "label": "victim_submitted"},
        ],
    )
    reshare = make_report(app, cluster_id=7)
    same_account = make_report(app, chat_id="room-2")
    same_channel = make_report(app, posted_by="acct-other")
    login(client)
    html = client.get(f"/review/{report_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert (
        '<mark class="hit hit-doxxing sev-2" title="home address">서울시 강남구 역삼동 123-4</mark>'
        in html
    )
    assert "Hash bank match" in html and "decide from the signals alone" in html
    assert "reported as: NCII" in html
    assert "this is me, posted without consent" in html
    assert "Reveal only this region: FACE_FEMALE" in html
    cluster_part = html.split("Same content (cluster)")[1]
    assert f"#{reshare}" in cluster_part.split("</ul>")[0]
    account_part = html.split("other reports")[1].split("</ul>")[0]
    assert f"#{same_account}" in account_part
    channel_part = html.split("The channel's other reports")[1].split("</ul>")[0]
    assert f"#{same_channel}" in channel_part
    assert f"/review/media/{_media_id(html)}/preview.jpg" in html


def test_unknowable_reports_are_404(app, client):
    make_user(app)
    hidden = make_report(app, category="csam_suspected")
    login(client)
    assert client.get(f"/review/{hidden}").status_code == 404
    assert client.get("/review/999999").status_code == 404


def test_reveal_is_a_csrf_post_and_is_audited(app, client):
    user_id = make_user(app)
    report_id = image_report(app)
    login(client)
    html = client.get(f"/review/{report_id}").get_data(as_text=True)
    media_id = _media_id(html)
    assert client.get(f"/review/media/{media_id}/reveal").status_code == 405
    assert client.post(f"/review/media/{media_id}/reveal").status_code == 400  # no CSRF token
    with app.app_context():
        assert db.session.execute(select(MediaReveal)).first() is None
    response = client.post(
        f"/review/media/{media_id}/reveal", data={"csrf_token": csrf_token(html)}
    )
    assert response.status_code == 302
    with app.app_context():
        reveal = db.session.execute(select(MediaReveal)).scalar_one()
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "media.reveal")
        ).scalar_one()
        assert event.actor_user_id == user_id and event.object_id == str(media_id)
        assert event.details["reveal_id"] == reveal.id and event.details["region"] is None
    assert response.headers["Location"].endswith(f"/review/{report_id}?reveal={reveal.id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"/review/reveals/{reveal.id}.jpg" in page and "data-revealed" in page
    # The reveal lasts for that visit: reopening the item shows the blurred preview again
    # (issue 14 item 8), and `r` on the revealed image links back to it.
    again = client.get(f"/review/{report_id}").get_data(as_text=True)
    assert "data-revealed" not in again and f"/review/media/{media_id}/preview.jpg" in again
    blur_again = page.split("data-key-reveal")[0].rsplit("<a href=", 1)[1]
    assert blur_again.startswith(f'"/review/{report_id}"')
    image = client.get(f"/review/reveals/{reveal.id}.jpg")
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert image.headers["Cache-Control"] == "no-store"
    # Another moderator cannot use someone else's reveal.
    make_user(app, "b@example.org")
    other = app.test_client()
    login(other, "b@example.org")
    assert other.get(f"/review/reveals/{reveal.id}.jpg").status_code == 404


def test_region_reveal_is_recorded_with_its_rectangle(app, client):
    make_user(app)
    report_id = image_report(app)
    login(client)
    html = client.get(f"/review/{report_id}").get_data(as_text=True)
    media_id = _media_id(html)
    bad = client.post(
        f"/review/media/{media_id}/reveal",
        data={"csrf_token": csrf_token(html), "x": "0.9", "y": "0", "w": "-1", "h": "0.5"},
    )
    assert bad.status_code == 422
    client.post(
        f"/review/media/{media_id}/reveal",
        data={"csrf_token": csrf_token(html), "x": "0.25", "y": "0.25", "w": "0.5", "h": "0.5"},
    )
    with app.app_context():
        reveal = db.session.execute(select(MediaReveal)).scalar_one()
        assert reveal.region == {"x": 0.25, "y": 0.25, "w": 0.5, "h": 0.5}
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "media.reveal")
        ).scalar_one()
        assert event.details["region"] == reveal.region


def test_liaison_sees_only_escalated_reports(app, client):
    make_user(app, "liaison@example.org", role="liaison")
    queued = image_report(app)
    escalated = make_report(app, status="escalated")
    login(client, "liaison@example.org")
    assert client.get(f"/review/{queued}").status_code == 404
    page = client.get(f"/review/{escalated}")
    assert page.status_code == 200 and "data-decide-form" not in page.get_data(as_text=True)


def test_pages_render_in_korean(app, client):
    make_user(app)
    report_id = image_report(app)
    login(client)
    html = client.get(f"/review/{report_id}?lang=ko").get_data(as_text=True)
    assert "공개" in html  # "Reveal"
    assert "대기열" in client.get("/?lang=ko").get_data(as_text=True)


def test_item_page_says_where_it_was_posted_and_what_mastodon_said(app, client):
    from models import Report

    make_user(app)
    plain = make_report(app, chat_id=None)
    report_id = make_report(app)
    with app.app_context():
        report = db.session.get(Report, report_id)
        report.context = {
            "chat_id": "room-1",
            "channel_name": "<b>지인방</b>",
            "member_count": 2400,
            "mastodon_category": "violation",
            "rule_ids": ["3", "9"],
        }
        db.session.commit()
    login(client)
    html = client.get(f"/review/{report_id}").get_data(as_text=True)
    assert "Posted in: &lt;b&gt;지인방&lt;/b&gt; · 2,400 members" in html
    assert "On Mastodon: violation · rules cited: 3, 9" in html
    korean = client.get(f"/review/{report_id}?lang=ko").get_data(as_text=True)
    assert "게시된 곳: &lt;b&gt;지인방&lt;/b&gt; · 참여자 2,400명" in korean
    assert "마스토돈 분류: violation · 인용된 규칙: 3, 9" in korean
    bare = client.get(f"/review/{plain}").get_data(as_text=True)
    assert "data-posted-in" not in bare and "data-upstream" not in bare


def test_item_page_says_where_the_content_is_and_who_decided_why(app, client):
    """Issue 14 items 6 and 9: the content's address (never a referrer), the platform's own
    id, when it was reported there, and a decision history with who, the reason and the note."""
    from tests.factories import make_platform, post_report, report_body

    make_user(app)
    platform = make_platform(app)
    body = report_body(external_id="acme-4411", reported_at="2026-11-20T10:00:00Z")
    body["content"]["url"] = "https://social.example/p/77"
    report_id = post_report(client, platform, body).get_json()["id"]
    with app.app_context():
        from models import Report, ReportStatus

        db.session.get(Report, report_id).status = ReportStatus.QUEUED
        db.session.commit()
    login(client)
    html = client.get(f"/review/{report_id}").get_data(as_text=True)
    where = html.split("data-where")[1].split("</section>")[0]
    assert (
        '<a href="https://social.example/p/77" rel="noreferrer noopener" '
        'referrerpolicy="no-referrer" target="_blank">' in where
    )
    assert "acme-4411" in where and "2026-11-20 10:00 UTC" in where
    assert 'rel="prefetch"' not in html and 'rel="preload"' not in html

    client.post(
        f"/review/{report_id}/decide",
        data={
            "csrf_token": csrf_token(html),
            "action": "no_violation",
            "reason": "policy 4.2",
            "note": "satire account",
        },
    )
    history = client.get(f"/review/{report_id}").get_data(as_text=True).split("data-history")[1]
    history = history.split("</ul>")[0]
    assert "mod@example.org" in history and "policy 4.2" in history
    assert "satire account" in history


def test_no_raw_codes_in_the_korean_item_page(app, client):
    """Issue 14 item 13: statuses, who reported, signal and media kinds and roles in words."""
    make_user(app)
    report_id = image_report(app, signals=[{"kind": "text"}], text="전화 010-1234-5678")
    login(client)
    html = client.get(f"/review/{report_id}?lang=ko").get_data(as_text=True)
    assert "검토 대기" in html and "이미지" in html and "모더레이터" in html
    assert "텍스트: 휴대전화 번호" in html and "phone_kr_mobile" not in html
    for raw in (">queued<", "· image", ": user", "· moderator<", ">text:"):
        assert raw not in html, raw


def test_bank_matches_are_named_and_a_priority_bank_is_no_known_violation(app, client):
    """Issue 14 item 12: the bank signal named the bank's kind, and a raise_priority bank was
    described as a confirmed violation; re-share matches repeated one line per medium."""
    make_user(app)
    report_id = image_report(app, signals=[{"kind": "bank", "label": "imported"}])
    login(client)
    html = client.get(f"/review/{report_id}").get_data(as_text=True)
    assert "Hash bank match</strong>: test imported (imported) · sha256 · distance 0" in html
    assert "it is not a confirmed violation" in html and "Known violation" not in html
