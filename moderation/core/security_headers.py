"""Security headers on every response: pages, API answers, error pages and static files.

The policy is set here and nowhere else, and overrides whatever a view set, so no page can
weaken it by accident: no inline script or style, no framing, no referrer, no caching of
anything but static assets.
"""

from __future__ import annotations

from flask import Flask, Response, request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HSTS = "max-age=63072000; includeSubDomains"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

ALWAYS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
}


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in ALWAYS.items():
            response.headers[name] = value
        if app.config["ENV"] == "production":
            response.headers["Strict-Transport-Security"] = HSTS
        if not request.path.startswith("/static/"):
            # Pages and API answers may show reports: never keep them in any cache, including
            # the browser's back-button cache on a shared machine.
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
            response.headers.pop("Expires", None)
        return response
