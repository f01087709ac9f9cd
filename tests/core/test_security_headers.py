"""Security headers on every kind of response, and the session cookie's flags."""

from __future__ import annotations

import base64
import os

import pytest

from moderation import create_app
from moderation.core.security_headers import CSP
from tests.conftest import TEST_MEDIA_KEY
from tests.factories import csrf_token, login, make_user

EXPECTED = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _assert_headers(response, cacheable: bool = False) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (name, response.request.path)
    if not cacheable:
        assert response.headers["Cache-Control"] == "no-store", response.request.path


def test_csp_forbids_inline_script_and_framing():
    directives = dict(part.strip().split(" ", 1) for part in CSP.split(";"))
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "data:" in directives["img-src"]  # the server-drawn TOTP QR code


@pytest.mark.parametrize(
    "path",
    ["/login", "/", "/no-such-page", "/api/v1/platforms/nope/reports/1", "/api/openapi.json"],
)
def test_headers_on_pages_redirects_errors_and_api(app, client, path):
    _assert_headers(client.get(path))


def test_headers_on_signed_in_pages_and_405_and_csrf_errors(app, client):
    make_user(app, "admin@example.org", "admin")
    login(client, "admin@example.org")
    for response in (
        client.get("/"),
        client.get("/account/"),
        client.get("/admin/users/"),
        client.post("/admin/users/invite"),  # 400: no CSRF token
        client.put("/login"),  # 405
    ):
        _assert_headers(response)


def test_headers_on_429_and_500(app, client):
    @app.get("/boom-for-test")
    def _boom() -> str:
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    _assert_headers(client.get("/boom-for-test"))
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "1 per minute"
    token = csrf_token(client.get("/login").get_data(as_text=True))
    wrong = {"email": "nobody@example.org", "password": "wrong password", "csrf_token": token}
    assert client.post("/login", data=wrong).status_code == 401
    limited = client.post("/login", data=wrong)
    assert limited.status_code == 429
    _assert_headers(limited)


def test_static_files_are_cacheable_but_still_hardened(app, client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    _assert_headers(response, cacheable=True)
    assert response.headers.get("Cache-Control") != "no-store"
    response.close()


def test_no_hsts_in_development(app, client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_production_sends_hsts_and_secure_cookies(database_url, redis_url, tmp_path):
    production = create_app(
        {
            "ENV": "production",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "production-secret-key-that-is-long-enough-0123",
            "MEDIA_KEY": TEST_MEDIA_KEY,
            "EVIDENCE_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
            "MEDIA_DIR": str(tmp_path / "media"),
            "SERVER_NAME": "localhost",
        }
    )
    response = production.test_client().get("/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=63072000")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    production.extensions["moderation.db"][0].dispose()


def test_development_cookie_is_httponly_and_strict(app, client):
    cookie = client.get("/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
