"""Validation of an incoming report body into a typed value, before anything is written.

Every problem becomes a ValidationError naming the field, so senders can fix their integration.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from models import Category, ReporterKind
from moderation.core.errors import ValidationError

CATEGORIES = tuple(Category)
REPORTER_KINDS = tuple(ReporterKind)
MAX_TEXT = 100_000
MAX_SHORT = 255
# Context: the well-known keys are typed; a few extra scalar keys are kept as the sender gave them.
CONTEXT_ID_KEYS = ("chat_id", "channel_id")
MAX_CONTEXT_KEYS = 20
MAX_CONTEXT_VALUE = 1000


@dataclass(frozen=True)
class MediaInput:
    data: bytes | None = None
    url: str | None = None
    filename: str | None = None


@dataclass(frozen=True)
class ReportInput:
    external_id: str | None
    category: str
    reported_at: datetime | None
    reporter_kind: str
    reporter_id: str | None
    comment: str | None
    content_url: str | None
    content_text: str | None
    posted_by_id: str | None
    posted_by_handle: str | None
    context: dict[str, Any] = field(default_factory=dict)
    media: tuple[MediaInput, ...] = ()


def _string(value: Any, name: str, limit: int = MAX_SHORT, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise ValidationError(f"{name} is required", code="missing_field")
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and limit == MAX_SHORT:
        value = str(value)  # numeric ids are common; accept them as text
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string", code="invalid_type")
    if "\x00" in value:
        # PostgreSQL text cannot hold NUL; refuse it here rather than fail on commit.
        raise ValidationError(f"{name} must not contain NUL characters", code="invalid_type")
    if len(value) > limit:
        raise ValidationError(f"{name} is longer than {limit} characters", code="too_long")
    if required and not value.strip():
        raise ValidationError(f"{name} must not be empty", code="missing_field")
    return value


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"{name} must be an object", code="invalid_type")
    return value


def _context(value: Any) -> dict[str, Any]:
    """Validate `content.context`: chat_id/channel_id text (integers accepted as text),
    channel_name text, member_count a non-negative integer; other keys scalar and short."""
    raw = _object(value, "content.context")
    if len(raw) > MAX_CONTEXT_KEYS:
        raise ValidationError(
            f"content.context has more than {MAX_CONTEXT_KEYS} keys", code="invalid_context"
        )
    context: dict[str, Any] = {}
    for key, item in raw.items():
        name = f"content.context.{key}"
        if len(key) > 64 or "\x00" in key:
            raise ValidationError(
                "content.context keys are at most 64 characters, without NUL",
                code="invalid_context",
            )
        if key in CONTEXT_ID_KEYS:
            if isinstance(item, int) and not isinstance(item, bool):
                item = str(item)  # chat ids are often numbers; store them as text
            context[key] = _string(item, name, required=True)
        elif key == "channel_name":
            if item is not None and not isinstance(item, str):
                raise ValidationError(f"{name} must be a string", code="invalid_type")
            context[key] = _string(item, name)
        elif key == "member_count":
            if item is None:
                continue
            if not isinstance(item, int) or isinstance(item, bool) or item < 0:
                raise ValidationError(f"{name} must be a non-negative integer", code="invalid_type")
            context[key] = item
        elif item is None or isinstance(item, (bool, int, float)):
            context[key] = item
        elif isinstance(item, str):
            context[key] = _string(item, name, limit=MAX_CONTEXT_VALUE)
        else:
            raise ValidationError(
                f"{name} must be a string, number or boolean", code="invalid_type"
            )
    return context


def http_url(value: Any, name: str) -> str | None:
    """`value` if it is an http(s) URL with a host; None if absent; raises ValidationError."""
    url = _string(value, name, limit=4096)
    if url is None:
        return None
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValidationError(f"{name} is not a valid URL", code="invalid_url") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"{name} must be an http(s) URL", code="invalid_url")
    return url


def parse_timestamp(value: Any, name: str) -> datetime | None:
    text = _string(value, name)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError(f"{name} must be an ISO 8601 timestamp", code="invalid_type") from exc
    if parsed.tzinfo is None:
        raise ValidationError(f"{name} must include a time zone", code="invalid_type")
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # e.g. year 1 with a positive offset
        raise ValidationError(f"{name} is out of range", code="invalid_type") from exc


def _media(items: Any, max_items: int, max_bytes: int) -> tuple[MediaInput, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ValidationError("content.media must be a list", code="invalid_type")
    if len(items) > max_items:
        raise ValidationError(f"at most {max_items} media per report", code="too_many_media")
    parsed = []
    for index, item in enumerate(items):
        name = f"content.media[{index}]"
        if not isinstance(item, dict):
            raise ValidationError(f"{name} must be an object", code="invalid_type")
        filename = _string(item.get("filename"), f"{name}.filename")
        if "data" in item and "url" in item:
            raise ValidationError(f"{name} has both data and url; send one", code="invalid_media")
        if "data" in item:
            raw = item["data"]
            # Base64 is 4 characters per 3 bytes: anything longer cannot decode under the cap.
            if isinstance(raw, str) and len(raw) > (max_bytes // 3 + 1) * 4:
                raise ValidationError(
                    f"{name} is larger than {max_bytes} bytes", code="media_too_large"
                )
            encoded = _string(raw, f"{name}.data", limit=(max_bytes // 3 + 1) * 4)
            try:
                data = base64.b64decode(encoded or "", validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValidationError(
                    f"{name}.data is not valid base64", code="invalid_base64"
                ) from exc
            if not data:
                raise ValidationError(f"{name}.data is empty", code="invalid_media")
            if len(data) > max_bytes:
                raise ValidationError(
                    f"{name} is larger than {max_bytes} bytes", code="media_too_large"
                )
            parsed.append(MediaInput(data=data, filename=filename))
        elif "url" in item:
            parsed.append(MediaInput(url=http_url(item["url"], f"{name}.url"), filename=filename))
        else:
            raise ValidationError(f"{name} needs data (base64) or url", code="invalid_media")
    return tuple(parsed)


def parse_report(body: Any, *, max_media: int, max_media_bytes: int) -> ReportInput:
    """Validate a decoded JSON body against the report contract; raises ValidationError."""
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object", code="invalid_type")
    category = _string(body.get("category"), "category", required=True)
    if category not in CATEGORIES:
        raise ValidationError(
            f"category must be one of {', '.join(CATEGORIES)}", code="unknown_category"
        )
    reporter = _object(body.get("reporter"), "reporter")
    reporter_kind = _string(reporter.get("kind"), "reporter.kind") or ReporterKind.USER
    if reporter_kind not in REPORTER_KINDS:
        raise ValidationError(
            f"reporter.kind must be one of {', '.join(REPORTER_KINDS)}", code="invalid_reporter"
        )
    content = _object(body.get("content"), "content")
    posted_by = _object(content.get("posted_by"), "content.posted_by")
    report = ReportInput(
        external_id=_string(body.get("external_id"), "external_id"),
        category=category,
        reported_at=parse_timestamp(body.get("reported_at"), "reported_at"),
        reporter_kind=reporter_kind,
        reporter_id=_string(reporter.get("id"), "reporter.id"),
        comment=_string(body.get("comment"), "comment", limit=MAX_TEXT),
        content_url=http_url(content.get("url"), "content.url"),
        content_text=_string(content.get("text"), "content.text", limit=MAX_TEXT),
        posted_by_id=_string(posted_by.get("id"), "content.posted_by.id"),
        posted_by_handle=_string(posted_by.get("handle"), "content.posted_by.handle"),
        context=_context(content.get("context")),
        media=_media(content.get("media"), max_media, max_media_bytes),
    )
    if not report.media and not report.content_text and not report.content_url:
        raise ValidationError(
            "a report needs content: media, text or a url", code="missing_content"
        )
    return report


def channel_of(context: dict[str, Any] | None) -> str | None:
    """The chat room or channel id a report's context names, if any (`chat_id` first)."""
    for key in CONTEXT_ID_KEYS:
        value = (context or {}).get(key)
        if isinstance(value, str) and value:
            return value
    return None
