"""`moderation digest send [--now] [--json]`: a digest round by hand (the cron runs the same
round every CRON_DIGEST_INTERVAL_SECONDS)."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from moderation.core.db import db


@click.group("digest", help="Email digests.")
def digest_group() -> None:
    pass


@digest_group.command("send")
@click.option(
    "--now",
    is_flag=True,
    help="Send each subscribed person's digest now, not at their scheduled time; a second run "
    "straight after sends nothing new.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def digest_send(now: bool, as_json: bool) -> None:
    """Record the digests that are due (each period once, however many run this at once) and
    put them on the `mail` queue; a worker sends them."""
    from moderation.core.redis_conn import get_redis
    from moderation.notifications import digests, outbox
    from moderation.settings import settings_for

    settings = settings_for(current_app).notifications
    result = digests.send_round(db.session, settings, on_demand=now)
    enqueued = outbox.dispatch(db.session, get_redis(), settings, result.recorded)
    document = {**result.to_dict(), "enqueued": enqueued, "smtp": settings.smtp is not None}
    if as_json:
        click.echo(json.dumps(document))
        return
    click.echo(
        f"recorded {len(result.recorded)} digest(s), {result.skipped} with nothing new, "
        f"{result.already} already recorded; {enqueued} on the mail queue"
    )
    if settings.smtp is None:
        click.echo("no SMTP server configured (MODERATION_SMTP_URL): they wait in the outbox")
