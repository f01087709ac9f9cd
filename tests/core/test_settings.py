"""Typed settings are built by the factory and follow the configuration they came from."""

from __future__ import annotations

import pytest

from moderation import create_app
from moderation.settings import settings_for

BASE = {"TESTING": True, "SECRET_KEY": "k" * 48, "DATABASE_URL": "sqlite://"}


def test_the_factory_builds_them_once_and_a_changed_config_rebuilds_them():
    app = create_app({**BASE, "CLAIM_MINUTES": 7, "SLA_HOURS": {"ncii": 6, "default": 48}})
    first = settings_for(app)
    assert first is settings_for(app)  # built once, not per call
    assert first.review.claim_minutes == 7 and first.review.sla_hours["ncii"] == 6
    assert first.triage.sla_hours == {"ncii": 6, "default": 48}
    app.config["CLAIM_MINUTES"] = 3
    assert settings_for(app).review.claim_minutes == 3


def test_a_bad_value_stops_the_factory():
    with pytest.raises(ValueError):
        create_app({**BASE, "CLAIM_MINUTES": "soon"})
