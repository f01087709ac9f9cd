"""A wrong password costs one full argon2 verification whatever the account (finding 7)."""

from __future__ import annotations

import pytest

from moderation.accounts import passwords, signin
from moderation.accounts.invitations import invite
from moderation.core.db import db
from moderation.core.errors import AuthenticationError
from moderation.settings import settings_for
from tests.factories import make_user


@pytest.fixture
def verified_hashes(monkeypatch) -> list[str]:
    """Every hash the argon2 hasher is asked to verify against, in order."""
    seen: list[str] = []
    real = passwords._hasher

    class CountingHasher:
        def verify(self, stored: str, password: str) -> bool:
            seen.append(stored)
            return real.verify(stored, password)

        def __getattr__(self, name: str):
            return getattr(real, name)

    monkeypatch.setattr(passwords, "_hasher", CountingHasher())
    return seen


def _is_argon2(stored: str) -> bool:
    return stored.startswith("$argon2id$")


def test_every_wrong_password_costs_one_argon2_verification(app, verified_hashes):
    admin_id = make_user(app, "admin@example.org", "admin")
    make_user(app)
    settings = settings_for(app).accounts
    with app.app_context():
        invite(db.session, settings, admin_id, "invited@example.org", "moderator")
        for email in ("mod@example.org", "invited@example.org", "nobody@example.org"):
            verified_hashes.clear()
            with pytest.raises(AuthenticationError):
                signin.check_password(db.session, settings, email, "wrong password here")
            # One real argon2 verification for the registered, the invited-but-unused and the
            # unknown account alike: an invitee's unusable marker is no shortcut.
            assert len(verified_hashes) == 1 and _is_argon2(verified_hashes[0]), email


def test_an_unusable_password_marker_is_checked_against_the_dummy_hash(verified_hashes):
    from moderation.accounts.users import UNUSABLE_PASSWORD

    assert passwords.verify_password(UNUSABLE_PASSWORD, "!unusable") is False
    assert verified_hashes == [passwords.dummy_hash()]
