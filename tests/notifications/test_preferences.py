"""The preferences page (/account/notifications), in Korean and English, and its service."""

from __future__ import annotations

from moderation.core.db import db
from moderation.notifications import preferences
from moderation.settings import settings_for
from tests.factories import csrf_token, login, make_user


def _prefs(app, user_id: int) -> preferences.Preferences:
    with app.app_context():
        return preferences.get(db.session, user_id, settings_for(app).notifications)


def test_defaults_then_saved_through_the_page(app, client):
    user_id = make_user(app, "liaison@example.org", "liaison")
    assert _prefs(app, user_id) == preferences.Preferences("en", "UTC", "daily", True, False)
    assert login(client, "liaison@example.org").status_code == 302

    page = client.get("/account/notifications")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Daily at 09:00" in html and "Asia/Seoul" in html
    # A liaison gets no queue digest, so is not offered it (and cannot switch it on).
    assert 'name="queue_digest"' not in html
    answer = client.post(
        "/account/notifications",
        data={
            "csrf_token": csrf_token(html),
            "language": "ko",
            "time_zone": "Asia/Seoul",
            "digest_schedule": "twice_daily",
            "queue_digest": "1",
        },
    )
    assert answer.status_code == 302
    assert _prefs(app, user_id) == preferences.Preferences(
        "ko", "Asia/Seoul", "twice_daily", False, False
    )


def test_page_in_korean(app, client):
    make_user(app, "senior@example.org", "senior")
    login(client, "senior@example.org")
    html = client.get("/account/notifications?lang=ko").get_data(as_text=True)
    assert "이메일 알림" in html and "매일 09:00" in html
    assert 'name="queue_digest"' in html  # seniors may subscribe to the queue digest
    assert "Daily at 09:00" not in html


def test_bad_values_are_refused(app, client):
    user_id = make_user(app, "senior@example.org", "senior")
    login(client, "senior@example.org")
    token = csrf_token(client.get("/account/notifications").get_data(as_text=True))
    for field, value in (
        ("time_zone", "Mars/Olympus"),
        ("language", "fr"),
        ("digest_schedule", "hourly"),
    ):
        data = {
            "csrf_token": token,
            "language": "en",
            "time_zone": "UTC",
            "digest_schedule": "daily",
            field: value,
        }
        assert client.post("/account/notifications", data=data).status_code == 422, field
    assert _prefs(app, user_id) == preferences.Preferences("en", "UTC", "daily", True, False)


def test_signed_out_goes_to_sign_in(client):
    answer = client.get("/account/notifications")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
