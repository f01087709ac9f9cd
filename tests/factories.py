"""Factory functions for tests: platforms, users, signed deliveries and generated media."""

from __future__ import annotations

import base64
import io
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from moderation.intake.signatures import sign_standard

PASSWORD = "correct horse battery staple"


@dataclass
class PlatformInfo:
    slug: str
    webhook_secret: str
    api_token: str


def make_platform(
    app, slug: str = "acme", kind: str = "standard", secret: str | None = None
) -> PlatformInfo:
    from moderation.core.db import db
    from moderation.intake.platforms import create_platform

    with app.app_context():
        creds = create_platform(db.session, slug, kind, secret)
    return PlatformInfo(creds.slug, creds.webhook_secret, creds.api_token)


def make_user(
    app, email: str = "mod@example.org", role: str = "moderator", password: str = PASSWORD
):
    from moderation.accounts.users import create_user
    from moderation.core.db import db
    from moderation.settings import settings_for

    with app.app_context():
        return create_user(db.session, settings_for(app).accounts, email, role, password).id


def make_image(seed: int = 0, size: tuple[int, int] = (320, 240), fmt: str = "JPEG") -> bytes:
    """A textured synthetic picture (random shapes on noise) with a high PDQ quality."""
    rng = np.random.default_rng(seed)
    pixels = (rng.random((size[1] // 8, size[0] // 8, 3)) * 255).astype(np.uint8)
    image = Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rng.integers(0, size[0]), rng.integers(0, size[1])
        x1, y1 = x0 + rng.integers(10, 120), y0 + rng.integers(10, 120)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse([x0, y0, x1, y1], fill=colour)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def report_body(media: list[bytes] | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": f"ext-{uuid.uuid4().hex[:8]}",
        "category": "ncii",
        "reported_at": "2026-11-20T10:00:00Z",
        "reporter": {"kind": "user", "id": "u-1"},
        "comment": "this is me, posted without consent",
        "content": {
            "url": "https://social.example/p/1",
            "text": "look at her",
            "posted_by": {"id": "acct-9", "handle": "someone"},
            "context": {"chat_id": "room-1", "member_count": 2400},
            "media": [
                {"data": base64.b64encode(item).decode(), "filename": f"m{i}.jpg"}
                for i, item in enumerate(media or [])
            ],
        },
    }
    body.update(overrides)
    return body


def signed_headers(
    secret: str, body: bytes, msg_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def post_report(client, platform: PlatformInfo, body: dict[str, Any] | bytes, **header_args: Any):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        f"/api/v1/platforms/{platform.slug}/reports",
        data=raw,
        headers=signed_headers(platform.webhook_secret, raw, **header_args),
    )


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def totp_code_for(app, email: str = "mod@example.org", fresh: bool = True) -> str:
    """The user's current TOTP code, computed from the stored (sealed) secret.

    The server accepts each 30-second step once, so signing the same user in twice within a
    step would be refused as a replay. With `fresh` (the default) this test helper forgets the
    last used step first, so tests and browser tests can sign one user in from several clients;
    tests of replay protection pass fresh=False.
    """
    from sqlalchemy import select

    from models import User
    from moderation.accounts.totp import code_at_step, current_step, open_secret
    from moderation.core.db import db

    with app.app_context():
        user = db.session.execute(select(User).where(User.email == email.lower())).scalar_one()
        if fresh:
            user.last_totp_step = None
            db.session.commit()
        return code_at_step(open_secret(app.config, user), current_step())


def login(client, email: str = "mod@example.org", password: str = PASSWORD):
    """Sign in through the real pages: password, then the TOTP code. Returns the password
    step's answer if it did not move on (e.g. 401), else the code step's answer (302 on
    success)."""
    page = client.get("/login")
    token = csrf_token(page.get_data(as_text=True))
    first = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    if first.status_code != 302 or "/login/verify" not in first.headers.get("Location", ""):
        return first
    step = client.get(first.headers["Location"])
    code = totp_code_for(client.application, email)
    return client.post(
        first.headers["Location"],
        data={"code": code, "csrf_token": csrf_token(step.get_data(as_text=True))},
    )


def run_worker_burst(app) -> None:
    """Drain every queue with a real RQ worker on real Redis, in this process."""
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from moderation.core.queueing import QUEUE_NAMES, queue
    from moderation.core.redis_conn import get_redis

    with app.app_context():
        connection = get_redis()
        worker = SimpleWorker(
            [queue(name, connection) for name in QUEUE_NAMES],
            connection=connection,
            serializer=JSONSerializer,
        )
        worker.work(burst=True)
