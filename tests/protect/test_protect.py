"""/protect without a browser: registering hashes, the case number and PIN, matches counted
without giving away anyone else's registration, withdrawal, the caps and rate limits, and a
platform report of a registered photo ranking first with the registration reason."""

from __future__ import annotations

import base64
import io
import json

from PIL import Image
from sqlalchemy import func, select

from models import (
    AuditEvent,
    BankEntry,
    EntryStatus,
    ProtectHash,
    ProtectRegistration,
    Report,
)
from moderation.core.db import db
from moderation.core.errors import ValidationError
from moderation.media.analysis import analyse_image
from moderation.media.imaging import ImageLimits
from moderation.protect import registration as protect
from moderation.triage.reason_text import reason_text
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

SETTINGS = protect.ProtectSettings(max_images=3, contact_key=b"k" * 32)
CONTACT = "registrant@mail.example"


def chosen(data: bytes) -> protect.ChosenImage:
    """What the browser sends for `data` (the Python hashes; the browser agrees, see e2e)."""
    analysis = analyse_image(data, ImageLimits())
    return protect.ChosenImage(analysis.dihedral[0], analysis.pdq_quality, analysis.md5)


def _submission(*images: bytes, **overrides) -> protect.Submission:
    fields = {
        "images": tuple(chosen(image) for image in images),
        "category": "ncii",
        "consent": True,
        "contact": CONTACT,
    }
    fields.update(overrides)
    return protect.Submission(**fields)


def _rotated_copy(data: bytes) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).rotate(90, expand=True).save(out, format="JPEG", quality=80)
    return out.getvalue()


def test_register_banks_pdq_and_md5_with_the_registration_as_source(session):
    receipt = protect.register(session, _submission(make_image(1), make_image(2)), SETTINGS)
    registration = session.get(ProtectRegistration, receipt.registration_id)
    assert registration.number == receipt.number and registration.pin_hash != receipt.pin
    assert CONTACT.encode() not in (registration.contact_ciphertext or b"")
    entries = session.execute(select(BankEntry)).scalars().all()
    assert sorted(str(entry.signal_type) for entry in entries) == ["md5", "md5", "pdq", "pdq"]
    assert {entry.source for entry in entries} == {f"protect:{registration.id}"}
    assert {str(entry.bank.kind) for entry in entries} == {"victim_submitted"}
    assert protect.open_case(session, receipt.number.lower(), receipt.pin).id == registration.id
    event = session.execute(
        select(AuditEvent).where(AuditEvent.action == "protect.register")
    ).scalar_one()
    assert CONTACT not in json.dumps(event.details)


def test_refusals_consent_category_flat_and_the_cap(session):
    image = make_image(3)
    cases = {
        "consent_required": _submission(image, consent=False),
        "unknown_category": _submission(image, category="doxxing"),
        "no_images": _submission(),
        "too_many_images": _submission(*(make_image(seed) for seed in range(10, 14))),
        "flat_image": _submission(image, images=(protect.ChosenImage("0" * 64, 0, "a" * 32),)),
    }
    for code, submission in cases.items():
        try:
            protect.register(session, submission, SETTINGS)
        except ValidationError as error:
            assert error.code == code
        else:
            raise AssertionError(f"{code} was accepted")
    # A client claiming quality 100 for a degenerate hash is refused all the same.
    assert protect.is_flat(protect.ChosenImage("f" * 16 + "0" * 48, 100, "a" * 32))
    assert session.execute(select(func.count()).select_from(ProtectRegistration)).scalar() == 0
    receipt = protect.register(session, _submission(make_image(4), make_image(5)), SETTINGS)
    try:
        protect.add_images(
            session,
            receipt.registration_id,
            [chosen(make_image(6)), chosen(make_image(7))],
            SETTINGS,
        )
    except ValidationError as error:
        assert error.code == "too_many_images"
    else:
        raise AssertionError("the cap was not applied to additions")
    assert protect.add_images(session, receipt.registration_id, [chosen(make_image(6))], SETTINGS)


def test_wrong_pin_and_unknown_number_are_the_same_refusal(session):
    receipt = protect.register(session, _submission(make_image(8)), SETTINGS)
    for number, pin in ((receipt.number, "00000000"), ("ZZZZ-ZZZZ-ZZZZ-ZZZZ", receipt.pin)):
        try:
            protect.open_case(session, number, pin)
        except protect.CaseNotFound as error:
            assert error.status == 404
        else:
            raise AssertionError("opened without the right number and PIN")


def test_shared_photo_stays_matched_until_its_last_registrant_withdraws(session):
    photo = make_image(9)
    first = protect.register(session, _submission(photo), SETTINGS)
    second = protect.register(session, _submission(photo), SETTINGS)
    # Same answer shape, separate claims on one pair of entries: neither learns of the other.
    assert session.execute(select(func.count()).select_from(BankEntry)).scalar() == 2
    assert session.execute(select(func.count()).select_from(ProtectHash)).scalar() == 4
    assert protect.withdraw(session, first.registration_id) == 0
    statuses = set(session.execute(select(BankEntry.status)).scalars())
    assert statuses == {EntryStatus.ACTIVE}
    assert protect.withdraw(session, second.registration_id) == 2
    assert set(session.execute(select(BankEntry.status)).scalars()) == {EntryStatus.WITHDRAWN}
    # Registering it again makes it match again.
    protect.register(session, _submission(photo), SETTINGS)
    assert set(session.execute(select(BankEntry.status)).scalars()) == {EntryStatus.ACTIVE}


def _report(client, platform, data: bytes, category: str = "ncii") -> int:
    body = report_body(media=[data], category=category)
    response = post_report(client, platform, body)
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["id"]


def test_a_rotated_copy_ranks_first_with_the_reason_and_withdrawal_stops_it(app, client):
    platform = make_platform(app)
    photo, unrelated = make_image(20, size=(480, 360)), make_image(21, size=(480, 360))
    with app.app_context():
        receipt = protect.register(db.session, _submission(photo), SETTINGS)
    copy_id = _report(client, platform, _rotated_copy(photo))
    other_id = _report(client, platform, unrelated)
    run_worker_burst(app)
    with app.app_context():
        copy, other = db.session.get(Report, copy_id), db.session.get(Report, other_id)
        assert copy.priority > other.priority
        top = copy.priority_reasons[0]
        assert top["code"] == "bank.victim_submitted"
        assert top["detail"] == "matches a photo its subject registered"
        with app.test_request_context("/?lang=ko"):
            assert reason_text(top) == "촬영된 본인이 등록한 사진과 일치"
        view = protect.case_view(db.session, receipt.registration_id, SETTINGS)
        assert view.match_count == 1 and len(view.match_dates) == 1
    make_user(app, "senior@example.org", role="senior")
    assert login(client, "senior@example.org").status_code == 302
    item = client.get(f"/review/{copy_id}?lang=ko").get_data(as_text=True)
    assert "촬영된 본인이 보호를 위해 등록한 사진과 일치합니다" in item
    assert "촬영된 본인이 등록한 사진과 일치" in item  # the ranking reason
    assert "data-registered-match" not in client.get(f"/review/{other_id}").get_data(as_text=True)
    with app.app_context():
        # Someone registering the same photo now does not see the earlier match.
        late = protect.register(db.session, _submission(photo), SETTINGS)
        assert protect.case_view(db.session, late.registration_id, SETTINGS).match_count == 0
        protect.withdraw(db.session, late.registration_id)
        protect.withdraw(db.session, receipt.registration_id)
    after_id = _report(client, platform, _rotated_copy(photo))
    run_worker_burst(app)
    with app.app_context():
        after = db.session.get(Report, after_id)
        assert "bank.victim_submitted" not in {r["code"] for r in after.priority_reasons}


def _register_page(client, lang: str = "en", **fields):
    page = client.get(f"/protect?lang={lang}")
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "hashes": json.dumps([chosen(make_image(30)).__dict__]),
        "category": "synthetic_sexual",
        "consent": "y",
    }
    data.update(fields)
    return client.post("/protect", data=data)


def _receipt(client) -> tuple[str, str]:
    shown = client.get("/protect/registered").get_data(as_text=True)
    number = shown.split("data-case-number>")[1].split("<")[0]
    pin = shown.split("data-case-pin>")[1].split("<")[0]
    return number, pin


def _open(client, number: str, pin: str):
    page = client.get("/protect/case")
    token = csrf_token(page.get_data(as_text=True))
    return client.post("/protect/case", data={"csrf_token": token, "case": number, "pin": pin})


def test_pages_register_show_once_open_withdraw(app, client):
    assert _register_page(client).status_code == 302
    number, pin = _receipt(client)
    assert client.get("/protect/registered").status_code == 302  # shown once
    assert _open(client, number, pin).status_code == 302
    page = client.get("/protect/case/view").get_data(as_text=True)
    assert number in page and "data-case-images>1<" in page
    token = csrf_token(page)
    assert client.post("/protect/case/withdraw", data={"csrf_token": token}).status_code == 422
    done = client.post("/protect/case/withdraw", data={"csrf_token": token, "confirm": "y"})
    assert done.status_code == 302
    with app.app_context():
        assert set(db.session.execute(select(BankEntry.status)).scalars()) == {
            EntryStatus.WITHDRAWN
        }


def test_page_errors_in_korean_and_flat_images_refused_plainly(app, client):
    flat = [{"pdq": "0" * 64, "quality": 0, "md5": "b" * 32}]
    refused = _register_page(client, lang="ko", hashes=json.dumps(flat))
    assert refused.status_code == 422
    assert "너무 단순" in refused.get_data(as_text=True)
    no_consent = _register_page(client, consent="")
    assert no_consent.status_code == 422
    assert "Please confirm that these are photos of you." in no_consent.get_data(as_text=True)
    english = client.get("/protect?lang=en").get_data(as_text=True)
    assert "Only these codes are sent" in english
    korean = client.get("/protect?lang=ko").get_data(as_text=True)
    assert "사진은 이 기기에" in korean and "Only these codes" not in korean


def test_registrations_and_wrong_pins_are_rate_limited(app, client):
    app.config["RATE_LIMIT_PROTECT_REGISTER"] = "2/hour"
    app.config["RATE_LIMIT_PROTECT_CASE"] = "3/hour"
    assert _register_page(client).status_code == 302
    number, pin = _receipt(client)
    assert _register_page(client).status_code == 302
    blocked = _register_page(client)
    assert blocked.status_code == 429 and blocked.headers["Retry-After"]
    stranger = app.test_client()
    for _ in range(3):
        assert _open(stranger, number, "99999999").status_code == 404
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.7.0.2"
    assert _open(other, number, pin).status_code == 429  # locked for strangers
    # The browser that registered it has its own budget.
    assert _open(client, number, pin).status_code == 302


def test_no_image_bytes_are_accepted_or_kept(app, client):
    """The form has no file field; even a client that sends one has its file ignored."""
    photo = make_image(31)
    page = client.get("/protect").get_data(as_text=True)
    assert 'type="file"' in page and 'name="photos"' not in page
    token = csrf_token(page)
    response = client.post(
        "/protect",
        data={
            "csrf_token": token,
            "hashes": json.dumps([chosen(photo).__dict__]),
            "category": "ncii",
            "consent": "y",
            "photos": (io.BytesIO(photo), "me.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    with app.app_context():
        from models import Media

        assert db.session.execute(select(func.count()).select_from(Media)).scalar() == 0
    assert base64.b64encode(photo[:64]).decode() not in page
