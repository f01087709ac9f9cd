"""What the commands take from the app they run in (like the views, they are wiring: the
services they call take these as arguments and never look for an app)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app

from moderation.cases.settings import CaseSettings
from moderation.cases.signing import EvidenceSigner
from moderation.cases.summary import summary_renderer
from moderation.media.store import MediaStore, media_store_for
from moderation.settings import Settings, settings_for


def settings() -> Settings:
    return settings_for(current_app)


def case_settings() -> CaseSettings:
    return settings_for(current_app).cases


def evidence_signer() -> EvidenceSigner:
    return EvidenceSigner.from_config(current_app.config)


def media_store() -> MediaStore:
    return media_store_for(current_app.config)


def render_summary() -> Callable[[dict[str, Any], str], str]:
    return summary_renderer(current_app.jinja_env)
