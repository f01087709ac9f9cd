"""No plaintext upload byte touches the disk (issue 10, finding 3): Werkzeug would spool a file
part over 500 KB to a temporary file; the app keeps every part in memory instead."""

from __future__ import annotations

import io

import numpy as np
from flask import request
from PIL import Image

from moderation.core.uploads import init_uploads
from tests.banks.test_bank_pages import signed_in
from tests.factories import csrf_token


def _large_png() -> bytes:
    """A synthetic noise picture of about 2.4 MB, the size seen spooled to /tmp."""
    pixels = (np.random.default_rng(3).random((900, 900, 3)) * 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    assert len(out.getvalue()) > 2_000_000
    return out.getvalue()


def _record_upload_streams(app) -> list[object]:
    """Observe, after each request, what each uploaded file part was parsed into."""
    seen: list[object] = []

    @app.after_request
    def _observe(response):
        seen.extend(item.stream for item in request.files.values())
        return response

    return seen


def _in_memory(stream: object) -> bool:
    return isinstance(stream, io.BytesIO)


def test_a_large_portal_upload_is_parsed_in_memory(app, client):
    seen = _record_upload_streams(app)
    page = client.get("/portal/report?lang=en")
    response = client.post(
        "/portal/report",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "category": "ncii",
            "links": "",
            "description": "it is me",
            "files": (io.BytesIO(_large_png()), "me.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert seen and all(_in_memory(stream) for stream in seen), seen


def test_a_large_bank_query_upload_is_parsed_in_memory(app, client):
    seen = _record_upload_streams(app)
    signed_in(app, client, "admin")
    token = csrf_token(client.get("/admin/banks/").get_data(as_text=True))
    response = client.post(
        "/admin/banks/query",
        data={"csrf_token": token, "image": (io.BytesIO(_large_png()), "q.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert seen and all(_in_memory(stream) for stream in seen), seen


def test_an_oversize_request_is_refused_before_parsing(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1_000_000
    page = client.get("/portal/report?lang=en")
    response = client.post(
        "/portal/report",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "category": "ncii",
            "files": (io.BytesIO(_large_png()), "me.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 413


def test_in_memory_uploads_need_a_request_size_bound():
    from flask import Flask

    unbounded = Flask("x")
    unbounded.config["MAX_CONTENT_LENGTH"] = None
    try:
        init_uploads(unbounded)
    except RuntimeError as exc:
        assert "MAX_CONTENT_LENGTH" in str(exc)
    else:
        raise AssertionError("an unbounded app was accepted")
