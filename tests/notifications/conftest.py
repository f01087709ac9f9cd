"""Fixtures for the notification tests: a real SMTP server (STARTTLS and AUTH required) and an
app configured to send through it, retrying at once so a burst worker sees every attempt."""

from __future__ import annotations

import pytest

from tests.notifications.smtp_server import smtp_server

BASE_URL = "https://moderation.example"


@pytest.fixture
def mailbox(tmp_path):
    with smtp_server(tmp_path) as box:
        yield box


@pytest.fixture
def mail_app(app, mailbox, tmp_path):
    app.config.update(
        SMTP_URL=mailbox.url,
        SMTP_CA_FILE=mailbox.ca_file,
        SMTP_TIMEOUT=10,
        MAIL_FROM="Moderation queue <noreply@moderation.example>",
        BASE_URL=BASE_URL,
        # Retries at once: RQ re-queues a job with no interval, so a burst worker retries it.
        MAIL_RETRY_SECONDS="0,0,0",
        MEDIA_INDEX_DIR=str(tmp_path / "media-index"),
        CLASSIFIER_MODEL="",
    )
    return app
