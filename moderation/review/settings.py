"""The review settings: claims, the undo window, how long a reveal lasts, the SLA table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ReviewSettings:
    """Claims, the undo window, how long a reveal lasts, and the SLA table."""

    claim_minutes: float
    undo_seconds: float
    reveal_minutes: float
    sla_hours: Mapping[str, Any]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ReviewSettings:
        return cls(
            claim_minutes=float(config["CLAIM_MINUTES"]),
            undo_seconds=float(config["UNDO_SECONDS"]),
            reveal_minutes=float(config["REVEAL_MINUTES"]),
            sla_hours=dict(config["SLA_HOURS"]),
        )
