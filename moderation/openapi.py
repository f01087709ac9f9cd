"""The OpenAPI 3.1 document of the platform API (moderation/openapi.json), served at
/api/openapi.json. The document is written by hand; tests check real answers against it."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify

DOCUMENT_PATH = Path(__file__).resolve().parent / "openapi.json"

bp = Blueprint("openapi", __name__)


@cache
def openapi_document() -> dict[str, Any]:
    """The parsed document (read once per process)."""
    return json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))


@bp.get("/api/openapi.json")
def document() -> Response:
    return jsonify(openapi_document())
