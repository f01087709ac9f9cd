"""Wellness: reveal and exposure counts, the break at a cap, preferences, decide unseen."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from models import ExposureDay, utcnow
from moderation.core.db import db
from moderation.review import wellness
from tests.factories import csrf_token, login, make_user
from tests.review.review_factories import image_report, make_report


def _reveal(client, report_id: int):
    html = client.get(f"/review/{report_id}").get_data(as_text=True)
    media_id = re.search(r'data-media-id="(\d+)"', html).group(1)
    return client.post(f"/review/media/{media_id}/reveal", data={"csrf_token": csrf_token(html)})


def test_reaching_the_reveal_cap_starts_a_break(app, client):
    app.config.update(WELLNESS_DAILY_REVEALS=2, WELLNESS_BREAK_MINUTES=15)
    user_id = make_user(app)
    images = [image_report(app, seed=i, priority=90 - i) for i in range(3)]
    text_only = make_report(app, text="text only item", priority=10)
    banked = image_report(app, seed=9, priority=5, signals=[{"kind": "bank", "label": "confirmed"}])
    login(client)
    _reveal(client, images[0])
    _reveal(client, images[1])
    with app.app_context():
        row = db.session.execute(select(ExposureDay)).scalar_one()
        assert row.reveals == 2 and row.break_until is not None and row.user_id == user_id
    queue = client.get("/").get_data(as_text=True)
    assert "Time for a break." in queue
    listed = re.findall(r'data-report-id="(\d+)"', queue)
    assert str(images[2]) not in listed
    assert str(text_only) in listed and str(banked) in listed
    response = client.get(f"/review/{images[2]}")
    assert response.status_code == 409 and "Time for a break" in response.get_data(as_text=True)
    assert client.get(f"/review/{text_only}").status_code == 200
    bank_page = client.get(f"/review/{banked}").get_data(as_text=True)
    assert "Media is hidden during your break" in bank_page and "preview.jpg" not in bank_page
    # After the break, image items come back.
    with app.app_context():
        db.session.execute(update(ExposureDay).values(break_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert str(images[2]) in re.findall(
        r'data-report-id="(\d+)"', client.get("/").get_data(as_text=True)
    )


def test_reveal_is_refused_during_a_break(app, client):
    app.config.update(WELLNESS_DAILY_REVEALS=1)
    make_user(app)
    first, second = image_report(app, seed=1), image_report(app, seed=2)
    login(client)
    _reveal(client, first)
    with app.app_context():
        assert db.session.execute(select(ExposureDay.reveals)).scalar_one() == 1
    # A direct reveal POST is refused (not counted), and so are previews.
    html = client.get("/").get_data(as_text=True)
    from models import Media

    with app.app_context():
        media = db.session.execute(select(Media).where(Media.report_id == second)).scalar_one()
    client.post(f"/review/media/{media.id}/reveal", data={"csrf_token": csrf_token(html)})
    with app.app_context():
        assert db.session.execute(select(ExposureDay.reveals)).scalar_one() == 1
    assert client.get(f"/review/media/{media.id}/preview.jpg").status_code == 409


def test_heartbeats_count_minutes_of_exposure(app, client):
    app.config.update(WELLNESS_DAILY_EXPOSURE_MINUTES=1)
    user_id = make_user(app)
    report_id = make_report(app, text="x")
    login(client)
    html = client.get(f"/review/{report_id}").get_data(as_text=True)
    token = csrf_token(html)
    assert client.post("/review/heartbeat").status_code == 400  # CSRF applies to fetches too
    first = client.post("/review/heartbeat", headers={"X-CSRFToken": token}).get_json()
    assert first["on_break"] is False
    with app.app_context():
        # Pretend the last beat was 30 s ago: the next beat adds those 30 s, reaching the cap.
        db.session.execute(
            update(ExposureDay).values(last_beat_at=utcnow() - timedelta(seconds=30))
        )
        db.session.commit()
    second = client.post("/review/heartbeat", headers={"X-CSRFToken": token}).get_json()
    assert second["exposure_minutes"] == 1 and second["on_break"] is True
    with app.app_context():
        status = wellness.status(
            db.session, user_id, wellness.WellnessSettings.from_config(app.config)
        )
        assert status.on_break


def test_preferences_change_the_preview_defaults(app, client):
    user_id = make_user(app)
    login(client)
    page = client.get("/review/preferences").get_data(as_text=True)
    assert 'name="blur" value="1" checked' in page
    client.post("/review/preferences", data={"csrf_token": csrf_token(page), "greyscale": "1"})
    with app.app_context():
        options = wellness.preferences(db.session, user_id)
    assert options.blur is False and options.greyscale is True
