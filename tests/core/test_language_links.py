"""The language switch: links built from the route (never the raw path) that keep the page's
filters (security finding 11 and the newcomer issue's "language switch keeps filters")."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from tests.factories import login, make_user


def _language_links(html: str) -> dict[str, str]:
    return {
        code: href.replace("&amp;", "&")
        for href, code in re.findall(r'<a href="([^"]*)" hreflang="(\w+)"', html)
    }


def test_a_backslash_path_never_becomes_a_link_to_another_site(app, client):
    page = client.get("/%5Cevil.example/phish")
    assert page.status_code == 404
    links = _language_links(page.get_data(as_text=True))
    assert links, "the error page still offers the other language"
    for href in links.values():
        assert href.startswith("/") and not href.startswith("//"), href
        assert "\\" not in href and "evil.example" not in href, href
    page = client.get("//evil.example/phish")
    for href in _language_links(page.get_data(as_text=True)).values():
        assert "evil.example" not in href, href


def test_switching_language_keeps_the_route_and_the_filters(app, client):
    make_user(app, "mod@example.org", role="moderator")
    login(client)
    page = client.get("/?category=ncii&category=doxxing&lang=en&_external=1")
    links = _language_links(page.get_data(as_text=True))
    korean = urlsplit(links["ko"])
    assert korean.path == "/" and not korean.netloc
    query = parse_qs(korean.query)
    assert query == {"category": ["ncii", "doxxing"], "lang": ["ko"]}
