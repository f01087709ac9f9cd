"""`moderation media migrate --to URL`: copy the media store to another (file:// or s3://) and
verify every object (moderation/media/migration.py; the steps around it in docs/STORAGE.md)."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from moderation.core.db import db


@click.group("media", help="The store of original media.")
def media_group() -> None:
    pass


@media_group.command("migrate")
@click.option("--to", "to_url", required=True, help="file:///absolute/path or s3://bucket/prefix")
@click.option(
    "--endpoint-url",
    default=None,
    help="S3-compatible endpoint of the target (default: MODERATION_S3_ENDPOINT_URL).",
)
@click.option("--jobs", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def media_migrate(to_url: str, endpoint_url: str | None, jobs: int, as_json: bool) -> None:
    """Copy every original the database knows from the configured store to the one at --to,
    reading each copy back and re-checking its SHA-256. Safe to run again: verified copies are
    skipped. Exits 1 if any object failed. Deletes nothing; switch MODERATION_MEDIA_STORAGE_URL
    afterwards."""
    from moderation.config import decode_media_key
    from moderation.media.locations import (
        check_backend_available,
        configured_location,
        open_store,
        parse_storage_url,
    )
    from moderation.media.migration import migrate_media
    from moderation.media.store import media_store_for

    config = current_app.config
    try:
        target_location = parse_storage_url(to_url)
        check_backend_available(target_location)
    except ValueError as exc:
        # The message never repeats the URL: it might hold a credential.
        raise click.BadParameter(str(exc), param_hint="--to") from None
    source_name = configured_location(config).describe()
    target_name = target_location.describe()
    if source_name == target_name:
        raise click.BadParameter("the target is the configured store itself", param_hint="--to")
    source = media_store_for(config)
    target = open_store(
        target_location,
        decode_media_key(config["MEDIA_KEY"]),
        endpoint_url or config.get("S3_ENDPOINT_URL") or None,
    )

    def progress(done: int) -> None:
        if not as_json and done % 1000 == 0:
            click.echo(f"{done} objects checked", err=True)

    result = migrate_media(
        db.session,
        source,
        target,
        source_name=source_name,
        target_name=target_name,
        jobs=jobs,
        progress=progress,
    )
    if as_json:
        click.echo(json.dumps({"source": source_name, "target": target_name, **result.to_dict()}))
    else:
        click.echo(
            f"copied {result.copied}, already present {result.already_present}, "
            f"missing in source {result.missing}, failed {result.failed}"
        )
        if result.missing:
            ids = ", ".join(map(str, result.missing_media_ids))
            click.echo(f"missing in the source store: media {ids}", err=True)
        if result.failed:
            reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(result.reasons.items()))
            ids = ", ".join(map(str, result.failed_media_ids))
            click.echo(f"failed ({reasons}): media {ids}", err=True)
        if result.stopped:
            click.echo("stopped: a store stopped answering; run the command again", err=True)
        if result.ok:
            click.echo(f"every object verified; now set MODERATION_MEDIA_STORAGE_URL={target_name}")
    if not result.ok:
        sys.exit(1)
