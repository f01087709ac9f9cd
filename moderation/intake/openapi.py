"""The OpenAPI 3.1 document of the platform API, served at /api/openapi.json.

Written by hand, one file per responsibility in moderation/intake/api_spec/: `document.json` (the
header, security scheme and the schemas every route shares) and one file per route family, each
holding its paths and the schemas only it uses. They are merged here in a fixed order; a name
defined twice is an error, not a silent override. Tests check real answers against the result.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify

SPEC_DIR = Path(__file__).resolve().parent / "api_spec"
# Route families in the order their paths appear in the document.
PARTS = ("reports.json", "mastodon.json", "status.json", "appeals.json")

bp = Blueprint("openapi", __name__)


def _merge_into(target: dict[str, Any], part: dict[str, Any], where: str) -> None:
    for name, value in part.items():
        if name in target:
            raise ValueError(f"{where}: {name!r} is defined twice")
        target[name] = value


def assemble(spec_dir: Path = SPEC_DIR) -> dict[str, Any]:
    """The whole document from its parts; raises ValueError on a duplicated path or schema."""
    document = json.loads((spec_dir / "document.json").read_text(encoding="utf-8"))
    shell_paths = document.pop("paths", {})
    paths: dict[str, Any] = {}
    schemas = document["components"]["schemas"]
    for name in PARTS:
        part = json.loads((spec_dir / name).read_text(encoding="utf-8"))
        _merge_into(paths, part.get("paths", {}), name)
        _merge_into(schemas, part.get("components", {}).get("schemas", {}), name)
    _merge_into(paths, shell_paths, "document.json")
    # Keep the document's key order: openapi, info, paths, components.
    return {
        "openapi": document["openapi"],
        "info": document["info"],
        "paths": paths,
        "components": document["components"],
    }


@cache
def openapi_document() -> dict[str, Any]:
    """The assembled document (built once per process)."""
    return assemble()


@bp.get("/api/openapi.json")
def document() -> Response:
    return jsonify(openapi_document())
