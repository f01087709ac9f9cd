"""The settings the account services take (sessions, invitations, TOTP sealing, keyed digests,
who may know suspected-CSAM content), built from the configuration by moderation/settings.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from models import Role
from moderation.core.tokens import keyed_digest

DEFAULT_CSAM_ROLES: tuple[str, ...] = (Role.SENIOR, Role.ADMIN)


def parse_csam_roles(configured: Any) -> tuple[str, ...]:
    """Config `CSAM_ROLES`: a list, or a comma-separated string from the environment; None
    means the default (senior and admin)."""
    if configured is None:
        return DEFAULT_CSAM_ROLES
    if isinstance(configured, str):
        configured = configured.split(",")
    return tuple(str(role).strip() for role in configured if str(role).strip())


@dataclass(frozen=True)
class AccountSettings:
    media_key: str = field(repr=False)  # MEDIA_KEY: TOTP secrets are sealed with a key from it
    digest_key: str = field(repr=False)  # SECRET_KEY: keys the digests of emails in audit/Redis
    session_idle_minutes: int = 480
    session_max_days: float = 14
    invite_ttl_hours: int = 72
    totp_issuer: str = "Moderation queue"
    csam_roles: tuple[str, ...] = DEFAULT_CSAM_ROLES

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AccountSettings:
        return cls(
            media_key=str(config["MEDIA_KEY"]),
            digest_key=str(config["SECRET_KEY"]),
            session_idle_minutes=int(config["SESSION_IDLE_MINUTES"]),
            session_max_days=float(config["SESSION_MAX_DAYS"]),
            invite_ttl_hours=int(config["INVITE_TTL_HOURS"]),
            totp_issuer=str(config.get("TOTP_ISSUER") or "Moderation queue"),
            csam_roles=parse_csam_roles(config.get("CSAM_ROLES")),
        )

    @property
    def idle_timeout(self) -> timedelta:
        return timedelta(minutes=self.session_idle_minutes)

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(days=self.session_max_days)

    @property
    def invite_ttl(self) -> timedelta:
        return timedelta(hours=self.invite_ttl_hours)

    @property
    def totp_config(self) -> Mapping[str, Any]:
        """What moderation/accounts/totp.py reads (its functions take a config mapping)."""
        return {"MEDIA_KEY": self.media_key, "TOTP_ISSUER": self.totp_issuer}

    def email_digest(self, email: str) -> str:
        """A keyed digest of a normalised email: what audit details and throttle keys hold,
        never the email itself."""
        return keyed_digest(self.digest_key, email.strip().lower())
