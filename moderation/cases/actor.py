"""Who does something to a case: a signed-in user, or the operator at the command line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models import User
from moderation.accounts.permissions import Principal


@dataclass(frozen=True)
class Actor:
    """`user` is None for the command line (`kind` "cli") and for jobs (`kind` "system"):
    whoever runs a command on the server is trusted like an admin, and audited as the command.

    A user's actor carries the configured `CSAM_ROLES` (AccountSettings.csam_roles), so the
    case rules decide what the user may know without reading the app's configuration."""

    user: User | None = None
    kind: str = "user"
    csam_roles: tuple[str, ...] = ()

    @classmethod
    def of(cls, user: User, csam_roles: tuple[str, ...]) -> Actor:
        return cls(user, "user", tuple(csam_roles))

    @classmethod
    def cli(cls) -> Actor:
        return cls(None, "cli")

    @classmethod
    def system(cls) -> Actor:
        return cls(None, "system")

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user is not None else None

    @property
    def principal(self) -> Principal | None:
        """The user as the permission rules see them (None for the command line and jobs)."""
        return Principal(self.user, self.csam_roles) if self.user is not None else None

    def audit(self) -> dict[str, Any]:
        """The actor arguments of `moderation.audit.events.record`."""
        return {"actor_user_id": self.user_id, "actor_kind": self.kind}
