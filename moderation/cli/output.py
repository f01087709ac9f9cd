"""How every command answers: text for people, one JSON document with `--json` for scripts,
and on failure `{"error", "message"}` (the API's error shape) with exit status 1."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from moderation.core.errors import DomainError


def fail(code: str, message: str, as_json: bool) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"error": code, "message": message}))
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(1)


def fail_with(error: DomainError, as_json: bool) -> NoReturn:
    fail(error.code, error.message, as_json)


def emit(document: dict[str, Any] | list[Any], as_json: bool, text: str, err: bool = False) -> None:
    click.echo(json.dumps(document, ensure_ascii=False) if as_json else text, err=err)
