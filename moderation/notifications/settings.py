"""The notification settings: the SMTP server and sender, links, retries, digest and alert
rules, built once from the configuration (moderation/settings.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from moderation.accounts.settings import parse_csam_roles
from moderation.core.sealing import contact_key_for
from moderation.notifications.mailer import SmtpSettings


def _seconds(value: Any) -> tuple[int, ...]:
    if isinstance(value, list | tuple):
        return tuple(int(v) for v in value)
    return tuple(int(part) for part in str(value).split(",") if part.strip())


@dataclass(frozen=True)
class NotificationSettings:
    smtp: SmtpSettings | None  # None: no server configured, messages wait in the outbox
    mail_from: str
    base_url: str
    secret_key: str = field(repr=False)
    # Seals what a message carries but the outbox must not keep in the clear.
    sealing_key: bytes = field(repr=False)
    retry_seconds: tuple[int, ...] = (60, 300, 1800, 7200)
    lease_seconds: int = 300
    digest_grace_hours: float = 3
    default_time_zone: str = "UTC"
    default_language: str = "en"
    police_due_hours: float = 4
    csam_roles: tuple[str, ...] = ("senior", "admin")
    sla_hours: Mapping[str, Any] = field(default_factory=dict)
    daily_reveals: int = 60
    daily_exposure_minutes: int = 90

    @property
    def max_attempts(self) -> int:
        return len(self.retry_seconds) + 1

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NotificationSettings:
        """Raises ValueError for a bad SMTP URL or time zone, so the factory stops."""
        url = config.get("SMTP_URL")
        smtp = (
            SmtpSettings.from_url(
                str(url), float(config["SMTP_TIMEOUT"]), str(config["SMTP_CA_FILE"] or "")
            )
            if url
            else None
        )
        default_zone = str(config["NOTIFY_DEFAULT_TIME_ZONE"])
        ZoneInfo(default_zone)  # raises for an unknown zone
        return cls(
            smtp=smtp,
            mail_from=str(config["MAIL_FROM"]),
            base_url=str(config["BASE_URL"]).rstrip("/"),
            secret_key=str(config["SECRET_KEY"]),
            sealing_key=contact_key_for(config),
            retry_seconds=_seconds(config["MAIL_RETRY_SECONDS"]),
            lease_seconds=int(config["MAIL_LEASE_SECONDS"]),
            digest_grace_hours=float(config["DIGEST_GRACE_HOURS"]),
            default_time_zone=default_zone,
            default_language=str(config["NOTIFY_DEFAULT_LANGUAGE"]),
            police_due_hours=float(config["ALERT_POLICE_DUE_HOURS"]),
            csam_roles=parse_csam_roles(config.get("CSAM_ROLES")),
            sla_hours=dict(config["SLA_HOURS"]),
            daily_reveals=int(config["WELLNESS_DAILY_REVEALS"]),
            daily_exposure_minutes=int(config["WELLNESS_DAILY_EXPOSURE_MINUTES"]),
        )

    def link(self, path: str) -> str:
        """An absolute link into the app, from BASE_URL (mail is built outside any request)."""
        return f"{self.base_url}/{path.lstrip('/')}"
