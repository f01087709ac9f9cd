"""Platforms' signing secrets: weak ones typed by an operator are refused (issue 10, finding 12)."""

from __future__ import annotations

import base64
import json

import pytest

from moderation.core.errors import ValidationError
from moderation.intake.platforms import create_platform, rotate_secret

WEAK = [
    "a",
    "s3cret",
    "a" * 40,
    "mastodon" * 4,
    "aaaaaaaaaabbbbbbbbbbcccccccccc",
    "whsec_" + base64.b64encode(bytes(24)).decode(),
    "whsec_" + base64.b64encode(b"short").decode(),
    "whsec_not base64!",
]


@pytest.mark.parametrize("secret", WEAK)
def test_weak_mastodon_and_standard_secrets_are_refused(session, secret):
    for kind in ("mastodon", "standard"):
        with pytest.raises(ValidationError) as caught:
            create_platform(session, f"p-{kind}", kind, secret)
        assert caught.value.code == "weak_secret"
        assert len(secret) < 4 or secret not in caught.value.message


def test_strong_secrets_and_generated_ones_are_accepted(session):
    create_platform(session, "masto", "mastodon", "mastodon-shared-secret-0123456789")
    generated = create_platform(session, "acme")
    assert generated.webhook_secret.startswith("whsec_")
    with pytest.raises(ValidationError):
        rotate_secret(session, "acme", "a" * 32)
    assert rotate_secret(session, "acme").startswith("whsec_")


def test_cli_refuses_a_weak_mastodon_secret(app, runner):
    result = runner.invoke(
        args=["platform", "add", "masto", "--kind", "mastodon", "--secret", "a", "--json"]
    )
    assert result.exit_code == 1
    assert json.loads(result.output)["error"] == "weak_secret"
