"""Languages: English and Korean, picked from a cookie or the browser, switchable in the header.

Catalogues live in `translations/<area>/<lang>/LC_MESSAGES/messages.po`, one folder per area of
the app so teams edit their own files; Flask-Babel merges them. `python -m moderation.core.i18n`
compiles them in a checkout (the Makefile runs it; tests compile on first use); a wheel carries
them compiled (setup.py), so an installed package has nothing to compile.
"""

from __future__ import annotations

import sys
from pathlib import Path

from flask import Flask, request, url_for

from moderation.core.assets import asset_dir

LANGUAGES = ("en", "ko")
LANG_COOKIE = "lang"


def translation_directories() -> list[Path]:
    root = asset_dir("translations")
    return sorted(path for path in root.iterdir() if path.is_dir()) if root.exists() else []


def select_locale() -> str:
    chosen = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "en"


def compile_catalogues(force: bool = False) -> int:
    """Compile every .po to .mo when missing or older; returns how many were compiled."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    compiled = 0
    for po_path in asset_dir("translations").glob("*/*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=po_path.parts[-3])
        with mo_path.open("wb") as handle:
            write_mo(handle, catalog)
        compiled += 1
    return compiled


def init_i18n(app: Flask) -> None:
    from flask_babel import Babel

    app.config.setdefault(
        "BABEL_TRANSLATION_DIRECTORIES", ";".join(str(path) for path in translation_directories())
    )
    Babel(app, locale_selector=select_locale)

    @app.after_request
    def _remember_choice(response):  # type: ignore[no-untyped-def]
        chosen = request.args.get("lang")
        if chosen in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Strict", httponly=True
            )
        return response

    from moderation.triage.reason_text import category_label, reason_text

    app.add_template_filter(reason_text, "reason_text")
    app.add_template_filter(category_label, "category_label")

    @app.context_processor
    def _languages() -> dict[str, object]:
        return {
            "languages": LANGUAGES,
            "current_language": select_locale(),
            "language_url": language_url,
        }


def language_url(code: str) -> str:
    """This page in language `code`, with its filters kept. Built from the matched route, never
    from the raw path: `/%5Cevil.example/x` would otherwise give `href="/\\evil.example/x"`,
    which browsers follow to another site. A page without a GET route (an error page, or one
    rendered by a POST-only view) switches on the start page."""
    rule = request.url_rule
    if request.endpoint is None or rule is None or "GET" not in (rule.methods or ()):
        return url_for("queue.index", lang=code)
    params: dict[str, object] = {**(request.view_args or {})}
    for key in request.args:
        # Never let a query key replace a route part or steer url_for (`_external`, `_scheme`).
        if key != "lang" and key not in params and not key.startswith("_"):
            params[key] = request.args.getlist(key)
    params["lang"] = code
    return url_for(request.endpoint, **params)


if __name__ == "__main__":
    count = compile_catalogues(force="--force" in sys.argv)
    print(f"compiled {count} catalogue(s)")
