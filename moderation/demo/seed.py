"""Demo data: a platform, a staff login and reports with synthetic media drawn with Pillow.

Nothing here is real: the "photos" are coloured shapes and the texts are written for the demo.
Reports go through the real intake service, so the worker triages them like any other.
"""

from __future__ import annotations

import io
import random
import secrets
import uuid
from typing import Any

from flask import Flask
from PIL import Image, ImageDraw
from sqlalchemy import select

from models import Platform, User
from moderation.accounts.users import create_user
from moderation.core.db import db
from moderation.core.errors import DomainError
from moderation.core.redis_conn import get_redis
from moderation.core.sealing import contact_key_for
from moderation.intake import portal as victim_reports
from moderation.intake.platforms import create_platform, get_platform
from moderation.intake.report_input import parse_report
from moderation.intake.service import enqueue_after_commit, store_report
from moderation.media.store import media_store_for
from moderation.settings import settings_for

DEMO_EMAIL = "demo@example.org"
DEMO_BANK = "demo hotline list"
DEMO_PLATFORM = "demo-platform"

# Written for the demo; any likeness to real people or places is accidental.
DEMO_REPORTS: list[dict[str, Any]] = [
    {
        "category": "ncii",
        "reporter": {"kind": "victim"},
        "comment": "This is a private photo of me.",
        "text": "sharing her pics lol",
        "images": 1,
        "members": 3200,
    },
    {
        "category": "synthetic_sexual",
        "reporter": {"kind": "trusted_flagger"},
        "comment": "Composite image of a student, reported by a support centre.",
        "text": "지인능욕 합성 사진 요청합니다",
        "images": 2,
        "members": 5400,
    },
    {
        "category": "doxxing",
        "reporter": {"kind": "user"},
        "comment": "Her school and number were posted.",
        "text": "OO고등학교 2학년 3반, 연락처 010-0000-0000",
        "images": 0,
        "members": 900,
    },
    {
        "category": "sexual_harassment",
        "reporter": {"kind": "user"},
        "comment": "Rating a classmate's body.",
        "text": "rate her body 1-10",
        "images": 1,
        "members": 120,
    },
    {
        "category": "incitement",
        "reporter": {"kind": "user"},
        "comment": "Calls to find and hurt her.",
        "text": "누가 이 사람 찾아가서 혼내줘",
        "images": 0,
        "members": 15000,
    },
    {
        "category": "other",
        "reporter": {"kind": "automated"},
        "comment": "Possible spam.",
        "text": "check out this link",
        "images": 1,
        "members": 40,
    },
    {
        "category": "ncii",
        "reporter": {"kind": "user"},
        "comment": "Re-share of the same picture.",
        "text": "again",
        "images": 1,
        "members": 800,
        "reuse_image_of": 0,
    },
    {
        "category": "synthetic_sexual",
        "reporter": {"kind": "user"},
        "comment": "Deepfake of a streamer.",
        "text": "deepfake of her, link in bio",
        "images": 1,
        "members": 2100,
    },
]


def synthetic_picture(seed: int, size: tuple[int, int] = (640, 480)) -> bytes:
    """A JPEG of random shapes: detailed enough for a high PDQ quality, plainly not a person."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(40, 200) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        box = [x0, y0, x0 + rng.randrange(20, 200), y0 + rng.randrange(20, 200)]
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


def _ensure_platform() -> Platform:
    session = db.session
    if session.execute(select(Platform.id).where(Platform.slug == DEMO_PLATFORM)).first() is None:
        create_platform(session, DEMO_PLATFORM)
    return get_platform(session, DEMO_PLATFORM)


def _ensure_user(app: Flask) -> str | None:
    """Create the demo login if missing; returns its new password (None if it existed)."""
    session = db.session
    if session.execute(select(User.id).where(User.email == DEMO_EMAIL)).first():
        return None
    password = secrets.token_urlsafe(12)
    create_user(session, settings_for(app).accounts, DEMO_EMAIL, "admin", password)
    return password


def load_demo(app: Flask) -> dict[str, Any]:
    """Load the demo reports once more (each run adds a fresh batch) and enqueue their triage."""
    import base64

    platform = _ensure_platform()
    password = _ensure_user(app)
    store = media_store_for(app.config)
    pictures: dict[int, list[bytes]] = {}
    created = []
    for index, item in enumerate(DEMO_REPORTS):
        if "reuse_image_of" in item:
            images = pictures[item["reuse_image_of"]]
        else:
            images = [synthetic_picture(index * 10 + n) for n in range(item["images"])]
        pictures[index] = images
        body = {
            "external_id": f"demo-{index}",
            "category": item["category"],
            "reporter": item["reporter"],
            "comment": item["comment"],
            "content": {
                "text": item["text"],
                "posted_by": {"id": f"demo-account-{index % 3}"},
                "context": {"chat_id": f"demo-room-{index % 2}", "member_count": item["members"]},
                "media": [
                    {"data": base64.b64encode(image).decode(), "filename": f"demo-{index}-{n}.jpg"}
                    for n, image in enumerate(images)
                ],
            },
        }
        report_input = parse_report(body, max_media=20, max_media_bytes=10 * 1024 * 1024)
        result = store_report(
            db.session, store, platform, f"demo-{uuid.uuid4().hex}", report_input, "demo"
        )
        enqueue_after_commit(db.session, get_redis(), result.body["id"], report_input)
        created.append(result.body["id"])
    created.append(_portal_report(app, store))
    _demo_bank(pictures)
    # The cluster of the first report and its re-share (DEMO_REPORTS' reuse_image_of) as a case.
    reshares = [created[0]] + [
        created[index] for index, item in enumerate(DEMO_REPORTS) if item.get("reuse_image_of") == 0
    ]
    try:
        from moderation.demo.cases import seed_case

        escalation = seed_case(app, reshares, DEMO_EMAIL)
    except DomainError as error:  # the demo still works without it; say why
        db.session.rollback()
        escalation = {"case": f"not created: {error.message}"}
    return {
        **escalation,
        "platform": DEMO_PLATFORM,
        "reports": created,
        "login": {
            "email": DEMO_EMAIL,
            "password": password or "(unchanged: created by an earlier run)",
            **_demo_two_factor(app),
        },
    }


def _demo_bank(pictures: dict[int, list[bytes]]) -> None:
    """One small bank out of the box, holding the PDQ of a demo picture (as a hotline's list
    would), so the demo's re-share of it shows a bank match and the bank pages have content."""
    from moderation.banks.service import add_to_bank, create_bank, get_bank
    from moderation.core.errors import NotFoundError
    from moderation.media.imaging import hash_image

    try:
        bank = get_bank(db.session, DEMO_BANK)
    except NotFoundError:
        bank = create_bank(db.session, DEMO_BANK, kind="imported", actor_kind="cli")
    picture = pictures[1][0]
    add_to_bank(db.session, bank.id, "pdq", hash_image(picture)[1].pdq, source="demo")


def _portal_report(app: Flask, store: Any) -> int:
    """One report filed through the victim portal, with (made-up) contact details sealed with
    it, so the demo shows the audited "Show contact details" path too."""
    receipt = victim_reports.file_report(
        db.session,
        store,
        get_redis(),
        victim_reports.PortalSubmission(
            category="ncii",
            links=("https://social.example/demo/room-7",),
            uploads=(victim_reports.Upload("demo-portal.jpg", synthetic_picture(99)),),
            description="(demo) Someone posted this photo of me with the name of my school.",
            contact="(demo) 010-0000-0000, text messages after 6 pm",
        ),
        victim_reports.PortalSettings(
            platform_slug=str(app.config["PORTAL_PLATFORM_SLUG"]),
            contact_key=contact_key_for(app.config),
        ),
    )
    return receipt.report_id


def _demo_two_factor(app: Flask) -> dict[str, str]:
    """The demo login's TOTP secret and URI: add either to an authenticator app, or run
    `oathtool --totp -b SECRET` (or pyotp) to get the current 6-digit code."""
    from moderation.accounts.totp import new_recovery_codes, open_secret, provisioning_uri

    user = db.session.execute(select(User).where(User.email == DEMO_EMAIL)).scalar_one()
    if not user.totp_enabled:
        return {}
    # Recovery codes too, as every enrolled account has them (a fresh set on every demo run).
    codes = new_recovery_codes(db.session, user)
    db.session.commit()
    return {
        "recovery_codes": codes,
        "totp_secret": open_secret(app.config, user),
        "totp_uri": provisioning_uri(app.config, user),
    }
