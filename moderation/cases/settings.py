"""The cases settings: the referral SLA, retention periods, who signs evidence packages and who
may be assigned a suspected-CSAM case."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from moderation.accounts.settings import DEFAULT_CSAM_ROLES, parse_csam_roles


def _retention_days(value: Any) -> dict[str, int]:
    """RETENTION_DAYS as {outcome: days}. One number means every outcome; a mapping from the
    environment arrives as JSON (Flask's from_prefixed_env parses it)."""
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        days = int(value)
        return {"no_violation": days, "removed": days, "escalated": days}
    days_by_outcome = {str(outcome): int(days) for outcome, days in dict(value).items()}
    if any(days < 1 for days in days_by_outcome.values()):
        raise ValueError("RETENTION_DAYS must be at least 1 day for every outcome")
    return days_by_outcome


@dataclass(frozen=True)
class CaseSettings:
    referral_hours: float
    # Outcome ("no_violation", "removed", "escalated") -> days kept after the final decision.
    retention_days: Mapping[str, int] = field(default_factory=dict)
    organization: str = "Moderation queue"
    # CSAM_ROLES: a case holding suspected CSAM may be assigned only to these roles.
    csam_roles: tuple[str, ...] = DEFAULT_CSAM_ROLES

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CaseSettings:
        return cls(
            referral_hours=float(config["CASE_REFERRAL_HOURS"]),
            retention_days=_retention_days(config["RETENTION_DAYS"]),
            organization=str(config["ORGANIZATION_NAME"]),
            csam_roles=parse_csam_roles(config.get("CSAM_ROLES")),
        )
