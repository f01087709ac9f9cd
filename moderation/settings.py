"""Typed settings, built from the configuration once per app by `create_app` and handed to the
services as arguments: the one place that turns config keys into the values services use, so
no service reads `current_app.config` and every default lives in `config.DEFAULTS`.

Flask's config stays a mutable mapping (tests change an app's configuration after building it),
so `settings_for` rebuilds when the configuration it was built from has changed, and is a
dictionary comparison otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask

from moderation.accounts.settings import AccountSettings
from moderation.banks.index import BankIndex, IndexSettings, bank_index_for
from moderation.cases.settings import CaseSettings
from moderation.core.sealing import contact_key_for
from moderation.intake.mastodon import MastodonSettings
from moderation.intake.portal import PortalSettings
from moderation.intake.service import IntakeLimits
from moderation.notifications.settings import NotificationSettings
from moderation.outcomes.auto_decide import AutoDecideSettings
from moderation.outcomes.callbacks import CallbackSettings
from moderation.review.settings import ReviewSettings
from moderation.review.wellness import WellnessSettings
from moderation.triage.pipeline import TriageSettings
from moderation.triage.sweeper import SweepSettings

_KEY = "moderation.settings"


@dataclass(frozen=True)
class Settings:
    accounts: AccountSettings
    review: ReviewSettings
    wellness: WellnessSettings
    triage: TriageSettings
    sweep: SweepSettings
    intake: IntakeLimits
    mastodon: MastodonSettings
    portal: PortalSettings
    bank_index: IndexSettings
    callbacks: CallbackSettings
    auto_decide: AutoDecideSettings
    notifications: NotificationSettings
    cases: CaseSettings

    def bank_index_handle(self) -> BankIndex:
        """This process's bank index (one per process and directory, see banks/index.py)."""
        return bank_index_for(self.bank_index)


def build_settings(config: Mapping[str, Any], instance_path: str) -> Settings:
    """Every service's settings from one configuration; raises what a bad value raises
    (ValueError, ManifestError) so a misconfiguration stops the factory, not a request."""
    contact_key = contact_key_for(config)
    return Settings(
        accounts=AccountSettings.from_config(config),
        review=ReviewSettings.from_config(config),
        wellness=WellnessSettings.from_config(config),
        triage=TriageSettings.from_config(config, instance_path),
        sweep=SweepSettings.from_config(config),
        intake=IntakeLimits(
            max_media=int(config["MAX_MEDIA_PER_REPORT"]),
            max_media_bytes=int(config["MAX_MEDIA_BYTES"]),
            tolerance_seconds=int(config["WEBHOOK_TOLERANCE_SECONDS"]),
            internal_slugs=(str(config["PORTAL_PLATFORM_SLUG"]),),
        ),
        mastodon=MastodonSettings(
            max_media=int(config["MAX_MEDIA_PER_REPORT"]),
            keep_reporter_pii=bool(config["MASTODON_KEEP_REPORTER_PII"]),
            contact_key=contact_key,
        ),
        portal=PortalSettings(
            platform_slug=str(config["PORTAL_PLATFORM_SLUG"]),
            max_uploads=int(config["PORTAL_MAX_UPLOADS"]),
            max_upload_bytes=int(config["PORTAL_MAX_UPLOAD_BYTES"]),
            max_links=int(config["PORTAL_MAX_LINKS"]),
            contact_key=contact_key,
        ),
        bank_index=IndexSettings.from_config(config),
        callbacks=CallbackSettings.from_config(config),
        auto_decide=AutoDecideSettings.from_config(config),
        notifications=NotificationSettings.from_config(config),
        cases=CaseSettings.from_config(config),
    )


def init_settings(app: Flask) -> None:
    """Build the app's settings (called by `create_app`)."""
    app.extensions[_KEY] = (dict(app.config), build_settings(app.config, app.instance_path))


def settings_for(app: Flask) -> Settings:
    """The app's settings; rebuilt only if its configuration changed since they were built."""
    source, settings = app.extensions[_KEY]
    if source != app.config:
        init_settings(app)
        source, settings = app.extensions[_KEY]
    return settings
