"""The OpenAPI document: it is served, it covers every API route, real answers conform to it,
and a short schemathesis run over it finds no server error."""

from __future__ import annotations

import json
import os
from typing import Any

import jsonschema
import schemathesis
from hypothesis import HealthCheck, given, settings
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from models import Decision
from moderation.intake.openapi import openapi_document
from moderation.intake.signatures import sign_hub
from tests.factories import make_image, make_platform, post_report, report_body, signed_headers
from tests.intake.test_mastodon import SECRET, mastodon_payload, post_mastodon

DOC_URI = "urn:moderation:openapi"


def _validator(schema_name: str) -> jsonschema.Draft202012Validator:
    """A validator for one component schema, resolving refs inside the whole document."""
    registry = Registry().with_resource(DOC_URI, DRAFT202012.create_resource(openapi_document()))
    return jsonschema.Draft202012Validator(
        {"$ref": f"{DOC_URI}#/components/schemas/{schema_name}"}, registry=registry
    )


def _conforms(path: str, method: str, response) -> None:
    """The answer's status is documented for the operation and its body matches the schema."""
    operation = openapi_document()["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {path} answered undocumented {status}"
    schema_ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
    _validator(schema_ref.rsplit("/", 1)[1]).validate(response.get_json())
    assert response.mimetype == "application/json"


REPORTS = "/api/v1/platforms/{slug}/reports"
MASTODON = "/api/v1/platforms/{slug}/mastodon"
STATUS = "/api/v1/platforms/{slug}/reports/{report_id}"


def test_document_is_served_and_lists_every_api_route(app, client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    jsonschema.Draft202012Validator.check_schema(document["components"]["schemas"]["ReportBody"])
    api_rules = {
        rule.rule.replace("<int:report_id>", "{report_id}").replace("<slug>", "{slug}")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
    }
    assert api_rules == set(document["paths"])
    for path, methods in document["paths"].items():
        for operation in methods.values():
            if path.startswith("/api/v1/"):
                assert {"401", "404", "429", "503"} <= set(operation["responses"]), path


def test_real_answers_conform(app, client):
    acme = make_platform(app, "acme")
    make_platform(app, "masto", kind="mastodon", secret=SECRET)
    accepted = post_report(client, acme, report_body([make_image(1)]))
    _conforms(REPORTS, "post", accepted)
    report_id = accepted.get_json()["id"]
    _conforms(REPORTS, "post", post_report(client, acme, b"{bad"))
    _conforms(REPORTS, "post", post_report(client, acme, report_body(category="spam")))
    _conforms(REPORTS, "post", client.post("/api/v1/platforms/acme/reports", data=b"{}"))
    _conforms(REPORTS, "post", client.post("/api/v1/platforms/nobody/reports", data=b"{}"))
    app.config["MAX_CONTENT_LENGTH"] = 100
    _conforms(REPORTS, "post", post_report(client, acme, report_body()))
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    _conforms(MASTODON, "post", post_mastodon(client, "masto", mastodon_payload()))
    _conforms(
        MASTODON, "post", post_mastodon(client, "masto", {"event": "account.created", "object": {}})
    )
    _conforms(MASTODON, "post", post_mastodon(client, "masto", mastodon_payload(), secret="nope"))
    _conforms(
        MASTODON, "post", post_mastodon(client, "masto", {"event": "report.created", "object": 3})
    )
    auth = {"Authorization": f"Bearer {acme.api_token}"}
    _conforms(
        STATUS, "get", client.get(f"/api/v1/platforms/acme/reports/{report_id}", headers=auth)
    )
    from moderation.core.db import db

    with app.app_context():
        db.session.add(Decision(report_id=report_id, action="remove", reason="ncii"))
        db.session.commit()
    decided = client.get(f"/api/v1/platforms/acme/reports/{report_id}", headers=auth)
    _conforms(STATUS, "get", decided)
    assert decided.get_json()["decision"]["action"] == "remove"
    _conforms(
        STATUS, "get", client.get(f"/api/v1/platforms/acme/reports/{report_id + 99}", headers=auth)
    )
    _conforms(STATUS, "get", client.get(f"/api/v1/platforms/acme/reports/{report_id}"))
    app.config["RATE_LIMIT_PLATFORM"] = "1/minute"
    post_report(client, acme, report_body())
    limited = post_report(client, acme, report_body())
    _conforms(REPORTS, "post", limited)
    assert limited.status_code == 429


def test_schemathesis_finds_no_server_error(app):
    acme = make_platform(app, "acme")
    make_platform(app, "masto", kind="mastodon", secret=SECRET)
    # Bodies stay small: the generator should explore shapes, not bandwidth.
    app.config["RATE_LIMIT_PLATFORM"] = "100000/minute"
    app.config["RATE_LIMIT_UNAUTHENTICATED"] = "100000/minute"  # unsigned cases are the point
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    overrides: dict[str, dict[str, Any]] = {
        "submitReport": {"path_parameters": {"slug": "acme"}},
        "submitAppeal": {"path_parameters": {"slug": "acme"}},
        "receiveMastodonWebhook": {"path_parameters": {"slug": "masto"}},
        "getReportStatus": {
            "path_parameters": {"slug": "acme"},
            "headers": {"Authorization": f"Bearer {acme.api_token}"},
        },
    }
    client = app.test_client()
    seen: dict[str, set[int]] = {}

    def signed_call(case, operation_id: str):
        """Sign the generated body as a real sender would, so validation code is reached."""
        raw = json.dumps(case.body).encode()
        if operation_id in ("submitReport", "submitAppeal"):
            headers = signed_headers(acme.webhook_secret, raw)
        else:
            headers = {"X-Hub-Signature": sign_hub(SECRET, raw)}
        return client.post(case.formatted_path, data=raw, headers=headers)

    def fuzz(operation, operation_id: str, mode: GenerationMode, sign: bool) -> None:
        extra = overrides.get(operation_id, {})

        @settings(
            # SCHEMATHESIS_EXAMPLES: a short run here, thousands from bench/fuzz.py.
            max_examples=int(os.environ.get("SCHEMATHESIS_EXAMPLES", "30")),
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode, **extra))
        def exercise(case) -> None:
            signable = sign and isinstance(case.body, (dict, list, str, int, float, bool))
            response = signed_call(case, operation_id) if signable else case.call()
            seen.setdefault(operation.label, set()).add(response.status_code)
            case.validate_response(response, checks=checks)

        exercise()

    for result in schema.get_all_operations():
        operation = result.ok()
        operation_id = operation.definition.raw.get("operationId", "")
        fuzz(operation, operation_id, GenerationMode.POSITIVE, False)
        fuzz(operation, operation_id, GenerationMode.NEGATIVE, False)
        if operation_id in ("submitReport", "receiveMastodonWebhook", "submitAppeal"):
            fuzz(operation, operation_id, GenerationMode.POSITIVE, True)
            fuzz(operation, operation_id, GenerationMode.NEGATIVE, True)
    labels = {label for label in seen if "/v1/" in label}
    assert len(labels) == 4, seen
    assert all(status < 500 for statuses in seen.values() for status in statuses), seen
    # Signed, schema-shaped bodies get past authentication: validation code was exercised.
    assert seen["POST /api/v1/platforms/{slug}/reports"] & {202, 422}, seen
    assert seen["POST /api/v1/platforms/{slug}/mastodon"] & {200, 202, 422}, seen
    print(json.dumps({label: sorted(codes) for label, codes in seen.items()}))


def test_the_parts_merge_into_one_document_and_a_duplicate_is_refused(tmp_path):
    import shutil

    import pytest

    from moderation.intake.openapi import PARTS, SPEC_DIR, assemble

    document = assemble()
    refs = {
        ref.rsplit("/", 1)[1] for ref in _refs(document) if ref.startswith("#/components/schemas/")
    }
    assert refs <= set(document["components"]["schemas"])  # every reference resolves
    assert list(document) == ["openapi", "info", "paths", "components"]
    shutil.copytree(SPEC_DIR, tmp_path / "spec")
    part = json.loads((tmp_path / "spec" / PARTS[0]).read_text())
    part["components"]["schemas"]["Error"] = {"type": "object"}  # already in document.json
    (tmp_path / "spec" / PARTS[0]).write_text(json.dumps(part))
    with pytest.raises(ValueError, match="'Error' is defined twice"):
        assemble(tmp_path / "spec")


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []
