"""Admin bank pages: admins only, browse and search, upload-to-query (audited, not stored),
disable an entry (CSRF, audited), in English and Korean."""

from __future__ import annotations

import io
from pathlib import Path

from flask_login.utils import _create_identifier
from sqlalchemy import select

from models import AuditEvent, BankEntry, EntryStatus, User
from moderation.accounts.users import open_session
from moderation.banks.service import add_to_bank, create_bank
from moderation.core.db import db
from moderation.media.imaging import decode_image, pdq_of
from tests.conftest import TESTDATA
from tests.factories import csrf_token, make_image, make_user

ORIGINAL = TESTDATA / "pdq" / "dihedral" / "bridge-1-original.jpg"
ROTATED = TESTDATA / "pdq" / "dihedral" / "bridge-4-rotate-270.jpg"


def signed_in(app, client, role: str) -> int:
    """Sign `client` in as a new user of `role` (two-factor set up), bypassing the login form."""
    user_id = make_user(app, email=f"{role}@example.org", role=role)
    with app.app_context():
        user = db.session.get(User, user_id)
        user.totp_enabled = True
        token = open_session(db.session, user)
        db.session.commit()
    with app.test_request_context(environ_base=client.environ_base):
        identifier = _create_identifier()  # flask-login's "strong" protection checks it
    with client.session_transaction() as browser:
        browser["_user_id"] = token
        browser["_fresh"] = True
        browser["_id"] = identifier
    return user_id


def seeded_bank(app) -> tuple[int, int]:
    with app.app_context():
        bank = create_bank(db.session, "confirmed NCII", kind="confirmed")
        pdq, _ = pdq_of(decode_image(ORIGINAL.read_bytes()).image)
        entry = add_to_bank(db.session, bank.id, "pdq", pdq, source="victim form", note="case 12")
        return bank.id, entry.id


def actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.execute(select(AuditEvent.action)).scalars())


def test_non_admins_are_refused(app, client):
    bank_id, entry_id = seeded_bank(app)
    assert client.get("/admin/banks/").status_code == 302  # anonymous: sign in first
    signed_in(app, client, "moderator")
    assert client.get("/admin/banks/").status_code == 403
    assert client.get(f"/admin/banks/{bank_id}").status_code == 403
    response = client.post(f"/admin/banks/entries/{entry_id}/status", data={"status": "disabled"})
    assert response.status_code in (400, 403)
    with app.app_context():
        assert db.session.get(BankEntry, entry_id).status == EntryStatus.ACTIVE


def test_admin_lists_browses_and_searches(app, client):
    bank_id, entry_id = seeded_bank(app)
    signed_in(app, client, "admin")
    listing = client.get("/admin/banks/").get_data(as_text=True)
    assert "confirmed NCII" in listing and "Confirmed" in listing
    page = client.get(f"/admin/banks/{bank_id}").get_data(as_text=True)
    assert f'id="entry-{entry_id}"' in page and "case 12" in page
    with app.app_context():
        stored = db.session.get(BankEntry, entry_id).signal_value
    near = f"{int(stored, 16) ^ 0b111:064x}"
    found = client.get(f"/admin/banks/{bank_id}", query_string={"q": near}).get_data(as_text=True)
    assert f'id="entry-{entry_id}"' in found
    bad = client.get(f"/admin/banks/{bank_id}", query_string={"q": "zz"})
    assert bad.status_code == 422 and "hexadecimal" in bad.get_data(as_text=True)
    korean = client.get(f"/admin/banks/{bank_id}?lang=ko").get_data(as_text=True)
    assert "해시" in korean and "확인됨" in korean


def test_upload_to_query_finds_a_rotated_copy_and_is_audited(app, client):
    _, entry_id = seeded_bank(app)
    signed_in(app, client, "admin")
    page = client.get("/admin/banks/").get_data(as_text=True)
    token = csrf_token(page)
    response = client.post(
        "/admin/banks/query",
        data={"csrf_token": token, "image": (io.BytesIO(ROTATED.read_bytes()), "x.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert f'data-entry-id="{entry_id}"' in response.get_data(as_text=True)
    other = client.post(
        "/admin/banks/query",
        data={"csrf_token": token, "image": (io.BytesIO(make_image(5)), "y.jpg")},
        content_type="multipart/form-data",
    )
    assert 'id="no-matches"' in other.get_data(as_text=True)
    broken = client.post(
        "/admin/banks/query",
        data={"csrf_token": token, "image": (io.BytesIO(b"not an image"), "z.jpg")},
        content_type="multipart/form-data",
    )
    assert broken.status_code == 422
    with app.app_context():
        events = (
            db.session.execute(
                select(AuditEvent).where(AuditEvent.action == "bank.query").order_by(AuditEvent.id)
            )
            .scalars()
            .all()
        )
        assert len(events) == 2 and events[0].details["matched_entry_ids"] == [entry_id]
    # Nothing of the upload is kept in the media store.
    media_dir = Path(app.config["MEDIA_DIR"])
    assert not media_dir.exists() or not any(media_dir.rglob("*"))


def test_disable_entry_needs_csrf_stops_matching_and_is_audited(app, client):
    bank_id, entry_id = seeded_bank(app)
    admin_id = signed_in(app, client, "admin")
    url = f"/admin/banks/entries/{entry_id}/status"
    assert client.post(url, data={"status": "disabled"}).status_code == 400  # no CSRF token
    token = csrf_token(client.get(f"/admin/banks/{bank_id}").get_data(as_text=True))
    response = client.post(url, data={"status": "disabled", "csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(BankEntry, entry_id).status == EntryStatus.DISABLED
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "bank.entry_status")
        ).scalar_one()
        assert event.actor_user_id == admin_id and event.details["to"] == "disabled"
    query = client.post(
        "/admin/banks/query",
        data={"csrf_token": token, "image": (io.BytesIO(ORIGINAL.read_bytes()), "x.jpg")},
        content_type="multipart/form-data",
    )
    assert 'id="no-matches"' in query.get_data(as_text=True)
    refused = client.post(url, data={"status": "deleted", "csrf_token": token})
    assert refused.status_code == 422
    assert "bank.entry_status" in actions(app)


def test_query_hashes_a_16_bit_grey_as_triage_does(app, client):
    """The query page runs triage's own analysis: an admin asking about a 16-bit grey PNG
    sees the matching hash triage would store, and a bank entry of triage's dihedral hash
    is found at distance 0."""
    import numpy as np
    from PIL import Image

    from moderation.media.analysis import analyse_image
    from moderation.media.imaging import ImageLimits

    colour = decode_image(make_image(80, (640, 480))).image.convert("L")
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(colour).astype(np.uint16) * 257).save(buffer, format="PNG")
    data = buffer.getvalue()
    triage = analyse_image(data, ImageLimits())
    with app.app_context():
        bank = create_bank(db.session, "grey", kind="confirmed")
        entry = add_to_bank(db.session, bank.id, "pdq", triage.dihedral[0], source="test")
    signed_in(app, client, "admin")
    token = csrf_token(client.get("/admin/banks/").get_data(as_text=True))
    page = client.post(
        "/admin/banks/query",
        data={"csrf_token": token, "image": (io.BytesIO(data), "grey.png")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert triage.pdq in page
    assert f'data-entry-id="{entry.id}"' in page
    with app.app_context():
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "bank.query")
        ).scalar_one()
        assert event.details["pdq"] == triage.dihedral[0]


def test_an_admin_creates_a_bank_on_the_page(app, client):
    from tests.factories import csrf_token, login, make_user

    make_user(app, "admin@example.org", "admin")
    login(client, "admin@example.org")
    page = client.get("/admin/banks/?lang=en").get_data(as_text=True)
    created = client.post(
        "/admin/banks/",
        data={"csrf_token": csrf_token(page), "name": "hotline list", "kind": "csam",
              "action_hint": "known_violation", "pdq_threshold": "20"},
    )  # fmt: skip
    assert created.status_code == 302 and "/admin/banks/" in created.headers["Location"]
    listing = client.get("/admin/banks/?lang=en").get_data(as_text=True)
    assert "hotline list" in listing and "Known CSAM list" in listing
    again = client.post(
        "/admin/banks/",
        data={"csrf_token": csrf_token(page), "name": "hotline list", "pdq_threshold": "99"},
        follow_redirects=True,
    )
    assert "already exists" in again.get_data(as_text=True) or "0 to 31" in again.get_data(
        as_text=True
    )
