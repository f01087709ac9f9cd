"""Mastodon's admin webhook payload (an Admin::Report) parsed into our report input, and its
category mapping; what moderation/intake/mastodon.py describes and receives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

from models import Category, ReporterKind
from moderation.core.errors import ValidationError
from moderation.intake.report_input import (
    MAX_SHORT,
    MAX_TEXT,
    MediaInput,
    ReportInput,
    http_url,
    parse_timestamp,
)

REPORT_EVENTS = ("report.created", "report.updated")
# Upstream facts an update refreshes in a held report's context.
UPSTREAM_CONTEXT_KEYS = ("mastodon_category", "rule_ids", "forwarded")
MEDIA_TYPES = ("image", "video", "gifv")
REPORTER_PII_PURPOSE = "mastodon_reporter"

# First match wins; matched against the lower-cased text and hint of every cited rule.
CATEGORY_HINTS: tuple[tuple[Category, tuple[str, ...]], ...] = (
    (Category.CSAM_SUSPECTED, ("child sexual", "csam", "child abuse", "minor", "아동", "미성년")),
    (
        Category.NCII,
        (
            "non-consensual",
            "nonconsensual",
            "without consent",
            "intimate image",
            "revenge porn",
            "ncii",
            "hidden camera",
            "불법촬영",
            "불법 촬영",
            "동의 없",
            "리벤지",
        ),
    ),
    (
        Category.SYNTHETIC_SEXUAL,
        ("deepfake", "deep fake", "synthetic", "ai-generated", "딥페이크", "합성", "지인능욕"),
    ),
    (Category.DOXXING, ("dox", "personal information", "private information", "개인정보", "신상")),
    (Category.SEXUAL_HARASSMENT, ("sexual harassment", "harass", "성희롱", "성적 괴롭힘")),
    (Category.INCITEMENT, ("incite", "violence", "threat", "선동", "폭력")),
)


@dataclass(frozen=True)
class MastodonReport:
    event: str
    remote_id: str
    delivery_id: str
    report_input: ReportInput
    reporter_pii: dict[str, Any]


class _TextExtractor(HTMLParser):
    """Visible text of a status: line breaks for <br> and paragraphs, scripts and styles dropped."""

    _SKIP = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in ("p", "li", "blockquote"):
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of Mastodon's status HTML, paragraphs kept, whitespace tidied."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip().replace("\x00", "")


def map_category(mastodon_category: str | None, rules: list[dict[str, Any]]) -> str:
    """Our category for Mastodon's; see the module docstring for the table."""
    if mastodon_category == "spam":
        return "other"
    cited = " ".join(f"{rule.get('text') or ''} {rule.get('hint') or ''}" for rule in rules).lower()
    for category, words in CATEGORY_HINTS:
        if any(word in cited for word in words):
            return category
    return "other"


def _dict(value: Any, name: str, required: bool = False) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"{name} must be an object", code="invalid_type")
    return value


def _list(value: Any, name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError(f"{name} must be a list", code="invalid_type")
    return value


def _text(value: Any, limit: int = MAX_SHORT) -> str | None:
    """Lenient text for optional fields: non-strings are dropped, long ones cut, NUL removed."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        return None
    return value.replace("\x00", "")[:limit]


def _handle(account: dict[str, Any]) -> str | None:
    public = account.get("account") if isinstance(account.get("account"), dict) else {}
    acct = _text(public.get("acct"))
    if acct:
        return acct
    username, domain = _text(account.get("username")), _text(account.get("domain"))
    if username and domain:
        return f"{username}@{domain}"[:MAX_SHORT]
    return username


def _media(statuses: list[dict[str, Any]], max_media: int) -> tuple[tuple[MediaInput, ...], int]:
    """Media by URL from every status, and how many attachments were skipped."""
    media: list[MediaInput] = []
    skipped = 0
    for s_index, status in enumerate(statuses):
        attachments = _list(
            status.get("media_attachments"), f"statuses[{s_index}].media_attachments"
        )
        for attachment in attachments:
            if not isinstance(attachment, dict) or attachment.get("type") not in MEDIA_TYPES:
                skipped += 1
                continue
            try:
                url = http_url(attachment.get("url"), "url") or http_url(
                    attachment.get("remote_url"), "remote_url"
                )
            except ValidationError:
                url = None
            if url is None or len(media) >= max_media:
                skipped += 1
                continue
            media.append(MediaInput(url=url, filename=_text(attachment.get("id"))))
    return tuple(media), skipped


def _reporter_pii(account: dict[str, Any]) -> dict[str, Any]:
    ips = []
    for entry in account.get("ips") or []:
        if isinstance(entry, dict) and _text(entry.get("ip")):
            ips.append({"ip": _text(entry.get("ip")), "used_at": _text(entry.get("used_at"))})
    found = {"email": _text(account.get("email")), "ip": _text(account.get("ip")), "ips": ips}
    return found if found["email"] or found["ip"] or ips else {}


def parse_mastodon(payload: Any, max_media: int) -> MastodonReport | None:
    """Our report from Mastodon's webhook body; None for events other than reports.

    Raises ValidationError when the envelope or the report's required fields are malformed;
    optional fields of the wrong shape are ignored, since Mastodon retries refused deliveries.
    """
    envelope = _dict(payload, "the body", required=True)
    event = envelope.get("event")
    if not isinstance(event, str) or not event:
        raise ValidationError("event is required", code="missing_field")
    if event not in REPORT_EVENTS:
        return None
    obj = _dict(envelope.get("object"), "object", required=True)
    remote_id = _text(obj.get("id"), 64)
    if not remote_id:
        raise ValidationError("object.id is required", code="missing_field")
    version = _text(obj.get("updated_at"), 64) or _text(obj.get("created_at"), 64) or ""
    statuses = [s for s in _list(obj.get("statuses"), "object.statuses") if isinstance(s, dict)]
    rules = [r for r in _list(obj.get("rules"), "object.rules") if isinstance(r, dict)]
    reporter = _dict(obj.get("account"), "object.account")
    target = _dict(obj.get("target_account"), "object.target_account")
    target_public = target.get("account") if isinstance(target.get("account"), dict) else {}
    texts = []
    for status in statuses:
        parts = [
            _text(status.get("spoiler_text"), MAX_TEXT),
            _text(status.get("content"), MAX_TEXT),
        ]
        text = "\n".join(html_to_text(part) for part in parts if part)
        if text:
            texts.append(text)
    content_text = "\n\n---\n\n".join(texts)[:MAX_TEXT] or None
    content_url = None
    for candidate in [s.get("url") or s.get("uri") for s in statuses] + [target_public.get("url")]:
        try:
            content_url = http_url(candidate, "url") if isinstance(candidate, str) else None
        except ValidationError:
            content_url = None
        if content_url:
            break
    media, skipped = _media(statuses, max_media)
    if not media and not content_text and not content_url:
        raise ValidationError(
            "the report has no statuses, media or profile URL to review", code="missing_content"
        )
    mastodon_category = _text(obj.get("category"), 32)
    context: dict[str, Any] = {
        "mastodon_report_id": remote_id,
        "mastodon_category": mastodon_category,
        "status_ids": [_text(s.get("id"), 64) for s in statuses][:100],
        "rule_ids": [_text(r.get("id"), 64) for r in rules][:100],
        "forwarded": obj.get("forwarded") is True,
    }
    if skipped:
        context["skipped_media"] = skipped
    report_input = ReportInput(
        external_id=remote_id,
        category=map_category(mastodon_category, rules),
        reported_at=_timestamp(obj.get("created_at")),
        reporter_kind=ReporterKind.USER,
        reporter_id=_text(reporter.get("id")),
        comment=_text(obj.get("comment"), MAX_TEXT),
        content_url=content_url,
        content_text=content_text,
        posted_by_id=_text(target.get("id")),
        posted_by_handle=_handle(target),
        context=context,
        media=media,
    )
    return MastodonReport(
        event=event,
        remote_id=remote_id,
        delivery_id=f"mastodon:{event}:{remote_id}:{version}"[:255],
        report_input=report_input,
        reporter_pii=_reporter_pii(reporter),
    )


def _timestamp(value: Any) -> datetime | None:
    try:
        return parse_timestamp(value, "object.created_at")
    except ValidationError:
        return None  # a time we cannot read is not worth refusing the report for
