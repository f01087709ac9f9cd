"""A hypothesis harness over the webhook body parser (decode_json, then parse_report): any bytes
and any JSON, including reports whose every field is swapped for arbitrary JSON, end as a
report or a DomainError with a code and a readable message, never another exception. A short
run here (FUZZ_EXAMPLES); the signed HTTP route gets the same bodies in
test_signed_route_never_answers_5xx."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moderation.core.errors import DomainError
from moderation.intake.report_input import ReportInput, parse_report
from moderation.intake.service import decode_json
from tests.factories import make_image, make_platform, post_report, report_body

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
VALID = report_body([make_image(41)])


def _paths(document: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


PATHS = _paths(VALID)


@st.composite
def near_valid(draw: st.DrawFn) -> dict:
    """The valid report with a few fields (at any depth) replaced by arbitrary JSON."""
    body = json.loads(json.dumps(VALID))
    for path in draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=3)):
        target = body
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = draw(JSON)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    return body


def parse(raw: bytes) -> None:
    try:
        result = parse_report(decode_json(raw), max_media=20, max_media_bytes=1 << 20)
    except DomainError as error:
        assert error.code and error.message and 400 <= error.status < 500
        return
    assert isinstance(result, ReportInput)


@FUZZ
@given(st.binary(max_size=2048))
def test_any_bytes(raw: bytes) -> None:
    parse(raw)


@FUZZ
@given(JSON)
def test_any_json(document: Any) -> None:
    parse(json.dumps(document).encode())


@FUZZ
@given(near_valid())
def test_reports_with_fields_swapped_for_anything(body: dict) -> None:
    parse(json.dumps(body).encode())


@pytest.fixture
def platform(app):
    # Function-scoped: made once for the test, shared by its examples.
    return make_platform(app, slug="fuzz")


@settings(FUZZ, max_examples=max(EXAMPLES // 3, 20))
@given(body=near_valid())
def test_signed_route_never_answers_5xx(client, platform, body: dict) -> None:
    response = post_report(client, platform, body)
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert set(response.get_json()) >= {"error", "message"}
