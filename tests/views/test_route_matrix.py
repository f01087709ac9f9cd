"""Every route x every role, on objects the role may not know exist: nothing leaks.

The routes come from `app.url_map`, so a route added later is covered automatically; a route
missing from EXPECTED fails with a message saying to add it. For each route the request uses
the most sensitive object there is (a suspected-CSAM report and its media, another platform, a
reveal made by another moderator, another user), and for every role that may not know such an
object the answer must equal the answer for an id that does not exist (404 stays 404, never
403 or 200), so ids cannot be probed. CSRF is switched off here: the matrix is about
authorisation (CSRF has its own tests), and with it on every POST would stop at 400.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select
from werkzeug.routing import Rule

from models import Media, MediaReveal, Report, User, utcnow
from moderation import create_app
from moderation.core.db import db
from moderation.intake.platforms import create_platform, get_platform
from moderation.media.store import media_store_for
from tests.factories import login, make_image, make_user

ANON = "anonymous"
ROLES = (ANON, "moderator", "liaison", "senior", "admin")  # admin last: its POSTs change things
MISSING_ID = 987654

OK = {200}
PAGE_POST = {200, 302, 303, 400, 409, 422}  # an allowed form post with an empty body
LOGIN = {302}  # anonymous on a staff page: sent to sign in
DENIED = {403}
UNKNOWN = {404}  # the object is one the role may not know exists (or does not exist)


def allow(
    roles: tuple[str, ...],
    ok: set[int],
    *,
    denied: set[int] = DENIED,
    anon: set[int] = LOGIN,
    other: dict[str, set[int]] | None = None,
) -> dict[str, set[int]]:
    """Expected answers: `roles` get `ok`, other staff `denied`, anonymous `anon`; `other`
    overrides single roles."""
    table = {role: (ok if role in roles else denied) for role in ROLES if role != ANON}
    table[ANON] = anon
    table.update(other or {})
    return table


STAFF = ("moderator", "liaison", "senior", "admin")
QUEUE = ("moderator", "senior", "admin")
CSAM = ("senior", "admin")
ADMIN = ("admin",)
CASES = ("liaison", "senior", "admin")
EVERYONE = {role: OK for role in ROLES}

# (endpoint, method) -> role -> allowed statuses, for the request with the sensitive object.
EXPECTED: dict[tuple[str, str], dict[str, set[int]]] = {
    ("static", "GET"): EVERYONE,
    # Sign-in pages: signed-in people are sent on; the code steps need a password step first.
    ("auth.login", "GET"): allow(STAFF, {302}, anon=OK),
    ("auth.login", "POST"): allow(STAFF, {302}, anon={400}),
    ("auth.verify", "GET"): allow(STAFF, {302}, anon={302}),
    ("auth.verify", "POST"): allow(STAFF, {302}, anon={302}),
    ("auth.enrol", "GET"): allow(STAFF, {302}, anon={302}),
    ("auth.enrol", "POST"): allow(STAFF, {302}, anon={302}),
    ("auth.accept_invitation", "GET"): EVERYONE,  # a static page; the code comes by POST
    ("auth.accept_invitation", "POST"): allow(STAFF, UNKNOWN, anon=UNKNOWN),
    ("auth.logout", "POST"): allow(STAFF, {302}),
    ("account.index", "GET"): allow(STAFF, OK),
    ("account.password", "GET"): allow(STAFF, OK),
    ("account.password", "POST"): allow(STAFF, {400}),
    ("account.recovery_codes", "GET"): allow(STAFF, OK),
    # Without the password and a code (the empty body) nothing is made.
    ("account.recovery_codes", "POST"): allow(STAFF, {400}),
    # Email notifications: one's own settings; an unsubscribe link works signed out, and a
    # token that is not ours (forged, or an invitation's) is 404 for everyone.
    ("notifications.preferences_page", "GET"): allow(STAFF, OK),
    ("notifications.preferences_page", "POST"): allow(STAFF, {422}),
    ("notifications.unsubscribe_page", "GET"): {role: UNKNOWN for role in ROLES},
    ("notifications.unsubscribe_confirm", "POST"): {role: UNKNOWN for role in ROLES},
    # Staff accounts: admins only; an unknown user is 404 for them.
    ("admin_users.index", "GET"): allow(ADMIN, OK),
    ("admin_users.invite", "POST"): allow(ADMIN, {400}),
    ("admin_users.disable", "POST"): allow(ADMIN, {302}),
    ("admin_users.enable", "POST"): allow(ADMIN, {302}),
    ("admin_users.reset", "POST"): allow(ADMIN, OK),
    ("admin_users.change_role", "POST"): allow(ADMIN, {400}),
    # Hash banks: admins only.
    ("banks.index", "GET"): allow(ADMIN, OK),
    ("banks.entries", "GET"): allow(ADMIN, UNKNOWN),
    ("banks.set_enabled", "POST"): allow(ADMIN, UNKNOWN | PAGE_POST),
    ("banks.set_status", "POST"): allow(ADMIN, UNKNOWN | PAGE_POST),
    ("banks.query", "POST"): allow(ADMIN, PAGE_POST),
    ("banks.create", "POST"): allow(ADMIN, PAGE_POST),
    # The liaison workspace: liaisons, seniors, admins; opening from escalations: seniors, admins.
    ("cases.index", "GET"): allow(CASES, OK),
    ("cases.escalated", "GET"): allow(CASES, OK),
    ("cases.open_case", "POST"): allow(CASES, PAGE_POST),
    ("cases.case", "GET"): allow(CASES, UNKNOWN),
    ("cases.advance", "POST"): allow(CASES, {302}),
    ("cases.assign", "POST"): allow(CASES, {302}),
    ("cases.note", "POST"): allow(CASES, {302}),
    ("cases.log_police_request", "POST"): allow(CASES, {302}),
    ("cases.answer_police_request", "POST"): allow(CASES, {302}),
    ("cases.export", "POST"): allow(CASES, {302}),
    ("history.index", "GET"): allow(QUEUE, OK),
    ("review.add_to_bank", "POST"): allow(CSAM, {302}),
    # Appeals: seniors and admins.
    ("appeals.index", "GET"): allow(CSAM, OK),
    ("appeals.decide", "POST"): allow(CSAM, {302}),
    ("api.receive_appeal", "POST"): {role: {401} for role in ROLES},
    # Decision callbacks: admins only.
    ("callbacks.index", "GET"): allow(ADMIN, OK),
    ("transparency.index", "GET"): allow(ADMIN, OK),
    ("callbacks.redeliver", "POST"): allow(ADMIN, UNKNOWN | PAGE_POST),
    # Dashboard: senior and admin; jobs: admin.
    ("dashboard.index", "GET"): allow(CSAM, OK),
    ("dashboard.jobs", "GET"): allow(ADMIN, OK),
    # Queue and review, on a suspected-CSAM report: unknown below senior.
    ("queue.index", "GET"): allow(QUEUE, OK, other={"liaison": {302}}),  # liaisons: to cases
    ("review.start", "GET"): allow(QUEUE, {302}),
    ("review.item", "GET"): allow(CSAM, OK, denied=UNKNOWN),
    ("review.next_item", "GET"): allow(QUEUE, {302}, denied=UNKNOWN | DENIED),
    ("review.decide", "POST"): allow(CSAM, PAGE_POST, denied=UNKNOWN | DENIED),
    ("review.claim", "POST"): allow(CSAM, {302}, denied=UNKNOWN | DENIED),
    ("review.release", "POST"): allow(CSAM, {302}, denied=UNKNOWN),
    # Taking over another's claim: seniors and admins (moderators and liaisons: 403).
    ("review.take_over", "POST"): allow(CSAM, {302}),
    ("review.preview", "GET"): allow(CSAM, OK, denied=UNKNOWN),
    ("review.reveal", "POST"): allow(CSAM, PAGE_POST, denied=UNKNOWN | DENIED),
    # Sealed contact data: senior, liaison (escalated reports only) and admin.
    ("review.contact", "POST"): allow(CSAM, OK, denied=UNKNOWN | DENIED),
    # Another moderator's reveal: unknown to everyone but its owner.
    ("review.revealed", "GET"): allow((), UNKNOWN, denied=UNKNOWN),
    ("review.undo", "POST"): allow(QUEUE, UNKNOWN | PAGE_POST),
    ("review.heartbeat", "POST"): allow(STAFF, OK | {204}),
    ("review.preferences", "GET"): allow(STAFF, OK),
    ("review.preferences", "POST"): allow(STAFF, PAGE_POST),
    # Public portal: no sign-in.
    ("public.report", "GET"): EVERYONE,
    ("public.report", "POST"): {role: {400, 422} for role in ROLES},
    ("public.receipt", "GET"): {role: {200, 302, 404} for role in ROLES},
    ("public.status", "GET"): EVERYONE,
    ("public.status", "POST"): {role: {400, 404, 422} for role in ROLES},
    ("public.add_information", "POST"): {role: {302} for role in ROLES},
    # /protect: no sign-in; without an opened case its case pages send to the PIN form.
    ("protect.index", "GET"): EVERYONE,
    ("protect.index", "POST"): {role: {400, 422} for role in ROLES},
    ("protect.registered", "GET"): {role: {302} for role in ROLES},
    ("protect.open_case", "GET"): EVERYONE,
    ("protect.open_case", "POST"): {role: {400, 404, 422} for role in ROLES},
    ("protect.case", "GET"): {role: {302} for role in ROLES},
    ("protect.add", "POST"): {role: {302} for role in ROLES},
    ("protect.withdraw", "POST"): {role: {302} for role in ROLES},
    # Platform API: signature or bearer token, never cookies.
    ("openapi.document", "GET"): EVERYONE,
    ("api.receive_report", "POST"): {role: {401} for role in ROLES},
    ("api.receive_mastodon", "POST"): {role: {401, 404} for role in ROLES},  # not a mastodon one
    ("api.report_status", "GET"): {role: {401} for role in ROLES},
}


def _config(tmp: str = "/tmp/moderation-route-matrix") -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": "sqlite://",
        "SECRET_KEY": "collection-only-secret-key-0123456789abcdef",
        "MEDIA_KEY": base64.b64encode(bytes(32)).decode(),
        "MEDIA_DIR": tmp,
    }


def _routes() -> list[tuple[str, str]]:
    """(endpoint, method) of every rule, read from a freshly built app at collection time."""
    app = create_app(_config())
    pairs = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    }
    app.extensions["moderation.db"][0].dispose()
    return sorted(pairs)


ROUTES = _routes()


def _world(app) -> dict[str, dict[str, Any]]:
    """Objects to aim at: `sensitive` values per URL argument, and `missing` ones that do not
    exist. Returns {"sensitive": {...}, "missing": {...}}."""
    make_user(app, "victim@example.org", "moderator")
    with app.app_context():
        session = db.session
        create_platform(session, "acme")
        create_platform(session, "other")
        other = get_platform(session, "other")
        csam = Report(
            platform_id=other.id,
            category="csam_suspected",
            reporter_kind="user",
            status="queued",
            priority=90,
        )
        plain = Report(
            platform_id=other.id,
            category="ncii",
            reporter_kind="user",
            status="queued",
            priority=50,
        )
        session.add_all([csam, plain])
        session.flush()
        store = media_store_for(app.config)
        picture = make_image(seed=7)
        stored = {
            "storage_key": store.put(picture),
            "sha256": hashlib.sha256(picture).hexdigest(),
            "mime": "image/jpeg",
            "state": "hashed",
            "width": 320,
            "height": 240,
        }
        csam_media = Media(report_id=csam.id, **stored)
        plain_media = Media(report_id=plain.id, position=0, **stored)
        session.add_all([csam_media, plain_media])
        session.flush()
        victim_id = session.execute(
            select(User.id).where(User.email == "victim@example.org")
        ).scalar_one()
        reveal = MediaReveal(
            user_id=victim_id,
            media_id=plain_media.id,
            report_id=plain.id,
            expires_at=utcnow() + timedelta(minutes=10),
        )
        session.add(reveal)
        session.commit()
        sensitive = {
            "report_id": csam.id,
            "media_id": csam_media.id,
            "reveal_id": reveal.id,
            "user_id": victim_id,
            "bank_id": MISSING_ID,
            "delivery_id": MISSING_ID,
            "case_id": MISSING_ID,
            "appeal_id": MISSING_ID,
            "request_id": MISSING_ID,
            "entry_id": MISSING_ID,
            "slug": "other",
            "token": "inv_not-a-real-token",
            "batch_id": "not-a-real-batch",
            "filename": "css/app.css",
        }
    # Platform slugs are public webhook addresses, not secrets: only ids are compared.
    missing = dict(
        sensitive,
        report_id=MISSING_ID,
        media_id=MISSING_ID,
        reveal_id=MISSING_ID,
        user_id=MISSING_ID,
    )
    return {"sensitive": sensitive, "missing": missing}


def _url(rule: Rule, values: dict[str, Any]) -> str:
    unknown = [name for name in rule.arguments if name not in values]
    assert not unknown, (
        f"route {rule.rule} takes {unknown}: add a sensitive and a missing value for them in "
        "tests/views/test_route_matrix.py::_world"
    )
    url = rule.rule
    for name in rule.arguments:
        url = url.replace(f"<{name}>", str(values[name]))
        for converter in ("int", "bigid", "path", "string"):
            url = url.replace(f"<{converter}:{name}>", str(values[name]))
    return url


def _clients(app) -> dict[str, Any]:
    clients = {ANON: app.test_client()}
    for role in ROLES[1:]:
        email = f"{role}@example.org"
        make_user(app, email, role)
        client = app.test_client()
        assert login(client, email).status_code == 302, role
        clients[role] = client
    return clients


def _request(client, method: str, url: str) -> tuple[int, str | None]:
    """The status and redirect target (a redirect that depends on a hidden object leaks too)."""
    response = client.open(url, method=method, data={})
    response.close()
    location = response.headers.get("Location")
    # A sign-in redirect naming the requested page itself says nothing about the object.
    if location:
        location = location.replace(quote(url, safe=""), "<requested>")
    return response.status_code, location


def test_every_route_is_in_the_table():
    missing = [route for route in ROUTES if route not in EXPECTED]
    assert not missing, (
        f"routes without an entry in EXPECTED (tests/views/test_route_matrix.py): {missing}. "
        "Add each with the answer every role should get."
    )


@pytest.fixture(scope="module")
def matrix(db_engine, database_url: str, redis_url: str, tmp_path_factory):
    """One app, one world and one signed-in client per role for the whole module (signing five
    people in per route would take minutes). Tables and Redis are emptied afterwards."""
    from redis import Redis

    from tests.conftest import TEST_MEDIA_KEY, _truncate

    Redis.from_url(redis_url).flushdb()
    _truncate(db_engine)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "MEDIA_KEY": TEST_MEDIA_KEY,
            "MEDIA_DIR": str(tmp_path_factory.mktemp("matrix-media")),
            "SERVER_NAME": "localhost",
            "PREFERRED_URL_SCHEME": "http",
        }
    )
    world = _world(app)
    clients = _clients(app)
    yield app, world, clients
    app.extensions["moderation.db"][0].dispose()
    _truncate(db_engine)
    Redis.from_url(redis_url).flushdb()


def _signed_in_again(app, clients: dict[str, Any]) -> None:
    """Routes like logout end a session: sign such a role back in before the next route."""
    app.config["WTF_CSRF_ENABLED"] = True
    for role in ROLES[1:]:
        if clients[role].get("/account/").status_code != 200:
            clients[role] = app.test_client()
            assert login(clients[role], f"{role}@example.org").status_code == 302, role


@pytest.mark.db
@pytest.mark.parametrize(("endpoint", "method"), ROUTES, ids=[f"{e}:{m}" for e, m in ROUTES])
def test_route_answers_every_role_as_expected(matrix, endpoint, method):
    assert (endpoint, method) in EXPECTED, (
        f"{method} {endpoint} is not in EXPECTED in tests/views/test_route_matrix.py: add it "
        "with the answer each role (anonymous, moderator, liaison, senior, admin) should get."
    )
    app, world, clients = matrix
    _signed_in_again(app, clients)
    app.config["WTF_CSRF_ENABLED"] = False
    rule = next(
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint == endpoint and method in rule.methods
    )
    sensitive_url = _url(rule, world["sensitive"])
    missing_url = _url(rule, world["missing"])
    expected = EXPECTED[(endpoint, method)]
    answers = {}
    try:
        for role in ROLES:
            answers[role] = _request(clients[role], method, sensitive_url)
            if role in (ANON, "moderator", "liaison") and missing_url != sensitive_url:
                # Roles that may not know the sensitive object: same answer as for a missing one.
                unknown_answer = _request(clients[role], method, missing_url)
                assert answers[role] == unknown_answer, (
                    f"{method} {rule.rule} as {role}: {answers[role]} for a hidden object but "
                    f"{unknown_answer} for a missing one; that difference leaks existence"
                )
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
    wrong = {role: status for role, (status, _) in answers.items() if status not in expected[role]}
    assert not wrong, f"{method} {rule.rule}: unexpected answers {wrong}; expected {expected}"
