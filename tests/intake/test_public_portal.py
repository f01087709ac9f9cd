"""The public report portal: filing in Korean and English, receipts and PINs, encryption of
contact data, CSRF, rate limits, and the trusted-flagger priority lane end to end."""

from __future__ import annotations

import io
import json
import re

from sqlalchemy import func, select

from models import AuditEvent, Platform, PortalReceipt, Report, ReportStatus, SealedContact
from moderation.intake import portal as victim_reports
from tests.factories import (
    csrf_token,
    make_image,
    make_platform,
    post_report,
    report_body,
    run_worker_burst,
)

CONTACT = "victim-contact@mail.example"


def _file(client, lang: str = "en", **fields):
    page = client.get(f"/portal/report?lang={lang}")
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "category": "ncii",
        "links": "https://social.example/p/1\nhttps://social.example/p/2",
        "description": "it is me",
        "contact": CONTACT,
    }
    data.update(fields)
    return client.post("/portal/report", data=data, content_type="multipart/form-data")


def _receipt(client) -> tuple[str, str]:
    page = client.get("/portal/report/received").get_data(as_text=True)
    codes = re.findall(r"<code>([^<]+)</code>", page)
    assert len(codes) == 2, page
    return codes[0], codes[1]


def _check(client, number: str, pin: str, lang: str = "en"):
    page = client.get(f"/portal/status?lang={lang}")
    token = csrf_token(page.get_data(as_text=True))
    return client.post("/portal/status", data={"csrf_token": token, "receipt": number, "pin": pin})


def test_victim_files_and_checks_a_report_in_korean(app, client):
    page = client.get("/portal/report?lang=ko").get_data(as_text=True)
    assert "나에 대한 콘텐츠 신고하기" in page and "<script" not in page
    upload = (io.BytesIO(make_image(11)), "me.jpg")
    response = _file(client, lang="ko", files=[upload])
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/portal/report/received"
    )
    number, pin = _receipt(client)
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", number) and re.fullmatch(r"\d{8}", pin)
    # The receipt is shown once.
    assert client.get("/portal/report/received").status_code == 302
    checked = _check(client, number.lower().replace("-", " "), pin, lang="ko")
    assert checked.status_code == 200
    assert "신고가 접수되었습니다. 내용을 확인하고 있습니다." in checked.get_data(as_text=True)

    from moderation.core.db import db

    with app.app_context():
        report = db.session.execute(select(Report)).scalar_one()
        platform = db.session.get(Platform, report.platform_id)
        assert platform.slug == "portal"
        assert report.reporter_kind == "victim" and report.category == "ncii"
        assert report.content_url == "https://social.example/p/1"
        assert report.context["links"][1] == "https://social.example/p/2"
        assert len(report.media) == 1 and report.media[0].mime == "image/jpeg"
        receipt = db.session.execute(select(PortalReceipt)).scalar_one()
        assert receipt.number == number and pin not in receipt.pin_hash
        assert receipt.pin_hash.startswith("$argon2")

    run_worker_burst(app)
    checked = _check(client, number, pin)
    # Triaged and queued, but nobody has opened it: it is waiting, not "being looked at".
    assert "It is waiting for a person on our team." in checked.get_data(as_text=True)
    from tests.outcomes.outcome_factories import decide

    with app.app_context():
        report_id = db.session.execute(select(Report.id)).scalar_one()
    decide(app, report_id, "no_violation")  # through the decision service, made final
    checked = _check(client, number, pin)
    assert "did not find that it breaks the rules" in checked.get_data(as_text=True)


def test_contact_is_encrypted_and_never_in_audit_or_logs(app, client, caplog):
    caplog.set_level("DEBUG")
    assert _file(client).status_code == 302
    from moderation.config import decode_media_key
    from moderation.core.db import db
    from moderation.core.sealing import contact_key, read_sealed_contacts

    with app.app_context():
        row = db.session.execute(select(SealedContact)).scalar_one()
        assert CONTACT.encode() not in row.ciphertext
        key = contact_key(decode_media_key(app.config["MEDIA_KEY"]))
        assert read_sealed_contacts(db.session, key, row.report_id, "portal_contact") == [
            {"contact": CONTACT}
        ]
        details = [event.details for event in db.session.execute(select(AuditEvent)).scalars()]
        assert CONTACT not in repr(details)
        report = db.session.get(Report, row.report_id)
        assert CONTACT not in repr([report.comment, report.context, report.content_text])
    assert CONTACT not in caplog.text


def test_wrong_pin_and_unknown_receipt_look_the_same(app, client):
    assert _file(client).status_code == 302
    number, pin = _receipt(client)
    wrong = _check(client, number, "00000000" if pin != "00000000" else "11111111")
    unknown = _check(client, victim_reports.new_receipt_number(), pin)
    assert wrong.status_code == unknown.status_code == 404
    message = "We could not find a report with that receipt number and PIN."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)


def test_receipt_numbers_are_random_not_sequential():
    numbers = {victim_reports.new_receipt_number() for _ in range(200)}
    assert len(numbers) == 200
    assert victim_reports.normalise_receipt_number("abcd efgh jkmn pqrs") == "ABCD-EFGH-JKMN-PQRS"
    assert victim_reports.normalise_receipt_number("ABCD-EFGH-JKMN-PQR") is None
    assert victim_reports.normalise_receipt_number("OIL0-0000-0000-0000") == "0110-0000-0000-0000"


def test_form_needs_csrf_token(app, client):
    response = client.post(
        "/portal/report", data={"category": "ncii", "links": "https://social.example/p/1"}
    )
    assert response.status_code == 400  # refused by CSRFProtect before the view runs
    assert _count(app, Report) == 0


def test_bad_input_gets_a_readable_message_and_stores_nothing(app, client):
    response = _file(client, links="javascript:alert(1)")
    assert response.status_code == 422
    assert "Each link must start with http:// or https://." in response.get_data(as_text=True)
    response = _file(client, links="", files=[])
    assert "Please add at least one link or one file." in response.get_data(as_text=True)
    response = _file(client, links="", files=[(io.BytesIO(b"%PDF-1.4 not media"), "x.pdf")])
    assert "Files must be pictures or videos." in response.get_data(as_text=True)
    app.config["PORTAL_MAX_UPLOAD_BYTES"] = 1000
    response = _file(client, links="", files=[(io.BytesIO(make_image(12)), "big.jpg")])
    assert "One of the files is too large." in response.get_data(as_text=True)
    response = _file(client, category="spam")
    assert response.status_code == 422
    assert _count(app, Report) == 0 and _count(app, PortalReceipt) == 0


def test_video_upload_is_accepted(app, client):
    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
    assert _file(client, links="", files=[(io.BytesIO(mp4), "clip.mp4")]).status_code == 302
    from moderation.core.db import db

    with app.app_context():
        assert db.session.execute(select(Report)).scalar_one().media[0].mime == "video/mp4"


def test_submissions_are_rate_limited_per_address(app, client):
    app.config["RATE_LIMIT_PUBLIC_REPORT"] = "2/hour"
    assert _file(client).status_code == 302
    assert _file(client).status_code == 302
    blocked = _file(client)
    assert blocked.status_code == 429 and blocked.headers["Retry-After"]
    assert "Too many attempts" in blocked.get_data(as_text=True)
    assert _count(app, Report) == 2


def test_status_checks_are_rate_limited_per_receipt_and_per_address(app, client):
    app.config["RATE_LIMIT_RECEIPT_CHECK"] = "3/hour"
    app.config["RATE_LIMIT_RECEIPT_CHECK_ADDRESS"] = "6/hour"
    assert _file(client).status_code == 302
    number, pin = _receipt(client)
    stranger = app.test_client()  # no device cookie for this receipt
    for _ in range(3):
        assert _check(stranger, number, "99999999").status_code == 404
    # The receipt is now locked for an hour for browsers that never proved they own it, even
    # with the right PIN and from another address (the filing browser: see below).
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.7.0.1"
    locked = _check(other, number, pin)
    assert locked.status_code == 429 and locked.headers["Retry-After"]
    # Per address: other receipts from this address run out too.
    for _ in range(3):
        assert _check(stranger, victim_reports.new_receipt_number(), "12345678").status_code == 404
    assert _check(stranger, victim_reports.new_receipt_number(), "12345678").status_code == 429


def test_portal_platform_accepts_no_webhooks(app, client):
    assert _file(client).status_code == 302
    from moderation.core.db import db

    with app.app_context():
        platform = db.session.execute(
            select(Platform).where(Platform.slug == "portal")
        ).scalar_one()
        secret = platform.webhook_secret
    fake = make_platform(app, "other")
    fake.slug, fake.webhook_secret = "portal", secret
    assert post_report(client, fake, report_body()).status_code == 404


def test_trusted_flagger_reports_rank_above_user_reports_of_same_severity(app, client):
    ordinary = make_platform(app, "acme")
    flagger = make_platform(app, "helpline", kind="trusted_flagger")
    low = post_report(client, ordinary, report_body(category="sexual_harassment")).get_json()["id"]
    # The flagger says "user"; its platform kind decides.
    high = post_report(client, flagger, report_body(category="sexual_harassment")).get_json()["id"]
    run_worker_burst(app)
    from moderation.core.db import db

    with app.app_context():
        flagged, ordinary_report = db.session.get(Report, high), db.session.get(Report, low)
        assert flagged.reporter_kind == "trusted_flagger"
        assert flagged.status == ordinary_report.status == ReportStatus.QUEUED
        # The queue orders by priority first; the later, flagged report must still come first.
        assert flagged.priority > ordinary_report.priority
        assert "reporter.trusted_flagger" in [r["code"] for r in flagged.priority_reasons]


def _count(app, model) -> int:
    from moderation.core.db import db

    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _stranger(app, n: int):
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = f"10.8.0.{n}"
    return browser


def test_wrong_pins_from_strangers_do_not_lock_the_victim_out(app, client):
    assert _file(client).status_code == 302
    number, pin = _receipt(client)
    for n in range(10):
        assert _check(_stranger(app, n), number, "99999999").status_code == 404
    # Someone who knows the number but not the PIN is stopped...
    assert _check(_stranger(app, 50), number, "99999999").status_code == 429
    # ...but the victim, on the browser they filed from, still sees their status.
    assert _check(client, number, pin).status_code == 200


def test_checking_the_right_pin_often_uses_up_nothing(app):
    owner = app.test_client()
    assert _file(owner).status_code == 302
    number, pin = _receipt(owner)
    # From a dozen new browsers (say, a support worker's and a friend's phone) the right PIN
    # keeps working: only wrong PINs spend the receipt's budget.
    for n in range(12):
        assert _check(_stranger(app, n), number, pin).status_code == 200, n


def test_the_receipt_never_travels_in_the_cookie_and_shows_once(app, client):
    """Finding 10: the receipt number and PIN sat in Flask's signed but readable session
    cookie between the form and the page that shows them."""
    from flask.sessions import SecureCookieSessionInterface

    response = _file(client)
    assert response.status_code == 302
    cookie = client.get_cookie("session")
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    stored = serializer.loads(cookie.value)
    number, pin = _receipt(client)
    flat = json.dumps(stored)
    assert number not in flat and pin not in flat
    assert number.replace("-", "") not in flat
    # Replaying the cookie as it was before the receipt was shown shows nothing.
    replay = app.test_client()
    replay.set_cookie("session", cookie.value, domain=cookie.domain)
    assert replay.get("/portal/report/received").status_code == 302


def test_the_reporter_sees_true_stages_the_outcome_and_where_to_get_help(app, client, tmp_path):
    """Issue 13 item 3: "waiting" until a person opens it, "in review" only then, the outcome
    in plain words once final, help lines, and information added with the receipt and PIN."""
    from sqlalchemy import select

    from models import Report
    from moderation.core.db import db
    from tests.factories import login, make_user, run_worker_burst
    from tests.outcomes.outcome_factories import decide

    app.config["MEDIA_INDEX_DIR"] = str(tmp_path / "media-index")
    app.config["CLASSIFIER_MODEL"] = ""
    _file(client)
    number, pin = _receipt(client)

    def stage() -> str:
        html = _check(client, number, pin).get_data(as_text=True)
        return re.search(r'data-stage="(\w+)"', html).group(1)

    assert stage() == "received"
    run_worker_burst(app)
    assert stage() == "waiting"
    with app.app_context():
        report_id = db.session.execute(select(Report.id)).scalar_one()
    make_user(app, "mod@example.org")
    moderator = app.test_client()
    login(moderator, "mod@example.org")
    assert moderator.get(f"/review/{report_id}").status_code == 200  # a person opens it
    assert stage() == "in_review"
    decide(app, report_id, "remove.ncii")
    page = _check(client, number, pin, lang="ko").get_data(as_text=True)
    assert 'data-stage="removed"' in page
    assert "02-735-8994" in page and "d4u.stop.or.kr" in page  # help, in Korea
    # Adding information right after the check; nothing about the accused is ever shown.
    added = client.post(
        "/portal/status/add",
        data={"csrf_token": csrf_token(page), "text": "also posted in another room"},
    )
    assert added.status_code == 302
    with app.app_context():
        assert "also posted in another room" in db.session.get(Report, report_id).comment
    stranger = app.test_client()
    token = csrf_token(stranger.get("/portal/status").get_data(as_text=True))
    refused = stranger.post("/portal/status/add", data={"csrf_token": token, "text": "x"})
    assert refused.status_code == 302
    with app.app_context():
        assert db.session.get(Report, report_id).comment.count("[") == 1
