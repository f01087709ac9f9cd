"""Priority reasons and categories read in the moderator's language."""

from __future__ import annotations

from moderation.triage.policy import PriorityInput, compute_priority
from moderation.triage.reason_text import category_label, reason_text
from tests.factories import (
    login,
    make_platform,
    make_user,
    post_report,
    report_body,
    run_worker_burst,
)


def _reasons():
    _, reasons = compute_priority(
        PriorityInput(
            category="ncii",
            reporter_kind="victim",
            text_labels={"doxxing": 2},
            channel_members=3200,
            cluster_reports=3,
        )
    )
    return {reason.code: reason.to_dict() for reason in reasons}


def test_reasons_keep_english_detail_and_numbers_for_translation():
    reasons = _reasons()
    assert reasons["reshares"]["detail"] == "3 reports of the same content"
    assert reasons["reshares"]["params"] == {"count": 3}
    assert reasons["reach"]["params"] == {"members": 3200}
    assert "params" not in reasons["category.ncii"]


def test_reason_text_in_korean_and_english(app):
    reasons = _reasons()
    with app.test_request_context("/?lang=ko"):
        assert reason_text(reasons["reshares"]) == "같은 콘텐츠에 대한 신고 3건"
        assert reason_text(reasons["reach"]) == "3200명이 볼 수 있는 곳에 게시됨"
        assert reason_text(reasons["text.doxxing"]) == "본문에서 신상 공개 신호 2건"
        assert reason_text(reasons["category.ncii"]) == "신고 유형: 비동의 촬영물·유포"
        assert reason_text(reasons["reporter.victim"]) == "신고자: 피해 당사자"
        assert category_label("doxxing") == "신상 공개"
    with app.test_request_context("/?lang=en"):
        assert reason_text(reasons["reshares"]) == "3 reports of the same content"
        assert category_label("csam_suspected") == "Suspected CSAM"
        unknown = {"code": "future.signal", "points": 3, "detail": "something new"}
        assert reason_text(unknown) == "something new"


def test_korean_queue_page_shows_korean_reasons(app, client):
    platform = make_platform(app)
    make_user(app)
    post_report(client, platform, report_body(category="doxxing"))
    run_worker_burst(app)
    login(client)
    page = client.get("/?lang=ko").get_data(as_text=True)
    assert "신고 유형: 신상 공개" in page
    assert "reported as doxxing" not in page
