"""The `moderation` command: a Flask CLI group (so `moderation run` serves the app)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext

from models import Role
from moderation.cli.output import fail_with
from moderation.core.db import db
from moderation.core.errors import DomainError


@click.group("db", help="Database migrations.")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from moderation.core.migrations import upgrade

    upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")


@click.group("user", help="Staff accounts.")
def user_group() -> None:
    pass


@user_group.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def user_add(email: str, role: str, password_stdin: bool, as_json: bool) -> None:
    """Create a staff account with two-factor sign-in enrolled; prints its otpauth:// URI (import
    it into an authenticator app; it is shown only now)."""
    from moderation.accounts.totp import provisioning_uri
    from moderation.accounts.users import create_user
    from moderation.settings import settings_for

    settings = settings_for(current_app).accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(db.session, settings, email, role, password)
    except DomainError as exc:
        fail_with(exc, as_json)
    totp_uri = provisioning_uri(settings.totp_config, user)
    if as_json:
        document = {"id": user.id, "email": user.email, "role": user.role, "totp_uri": totp_uri}
        click.echo(json.dumps(document))
    else:
        click.echo(f"created {user.role} #{user.id}")
        click.echo(f"two-factor URI (add it to an authenticator app): {totp_uri}")


@click.group("platform", help="Reporting platforms.")
def platform_group() -> None:
    pass


@platform_group.command("add")
@click.argument("slug")
@click.option(
    "--kind", default="standard", type=click.Choice(["standard", "mastodon", "trusted_flagger"])
)
@click.option("--secret", default=None, help="Inbound signing secret (required for mastodon).")
@click.option("--callback-url", default=None)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def platform_add(
    slug: str, kind: str, secret: str | None, callback_url: str | None, as_json: bool
) -> None:
    """Register a platform and print its secrets (shown once)."""
    from moderation.intake.platforms import create_platform

    try:
        creds = create_platform(db.session, slug, kind, secret, callback_url)
    except DomainError as exc:
        fail_with(exc, as_json)
    document = {
        "slug": creds.slug,
        "kind": creds.kind,
        "webhook_secret": creds.webhook_secret,
        "api_token": creds.api_token,
    }
    if creds.callback_secret:
        document["callback_secret"] = creds.callback_secret
    if as_json:
        click.echo(json.dumps(document))
    else:
        for key, value in document.items():
            click.echo(f"{key}: {value}")


@platform_group.command("rotate-secret")
@click.argument("slug")
@click.option("--secret", default=None)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def platform_rotate(slug: str, secret: str | None, as_json: bool) -> None:
    """Issue a new signing secret; the old one stays valid for seven days."""
    from moderation.intake.platforms import rotate_secret

    try:
        new_secret = rotate_secret(db.session, slug, secret)
    except DomainError as exc:
        fail_with(exc, as_json)
    click.echo(json.dumps({"slug": slug, "webhook_secret": new_secret}) if as_json else new_secret)


@platform_group.command("set-callback")
@click.argument("slug")
@click.argument("url", required=False)
@click.option("--clear", is_flag=True, help="Stop sending decision callbacks.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def platform_set_callback(slug: str, url: str | None, clear: bool, as_json: bool) -> None:
    """Set the URL decision callbacks are sent to; prints the outbound signing secret the
    first time (shown once)."""
    from moderation.outcomes.callback_admin import set_callback

    if not url and not clear:
        fail_with(DomainError("give a URL, or --clear", code="invalid_callback"), as_json)
    try:
        secret = set_callback(db.session, slug, None if clear else url)
    except DomainError as exc:
        fail_with(exc, as_json)
    document = {"slug": slug, "callback_url": None if clear else url}
    if secret:
        document["callback_secret"] = secret
    click.echo(
        json.dumps(document) if as_json else "\n".join(f"{k}: {v}" for k, v in document.items())
    )


@platform_group.command("rotate-callback-secret")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def platform_rotate_callback(slug: str, as_json: bool) -> None:
    """Issue a new outbound signing secret; callbacks carry both signatures for seven days."""
    from moderation.outcomes.callback_admin import rotate_callback_secret

    try:
        secret = rotate_callback_secret(db.session, slug)
    except DomainError as exc:
        fail_with(exc, as_json)
    click.echo(json.dumps({"slug": slug, "callback_secret": secret}) if as_json else secret)


def _refuse_unsafe_redis(connection: Any) -> None:
    """Exit (status 2) with one sentence if Redis could evict jobs; warn and go on if its
    eviction policy cannot be read (see core/redis_conn.py). An unreachable Redis is worded by
    ModerationGroup."""
    from moderation.core.redis_conn import UnsafeRedisError, check_eviction_policy

    try:
        warning = check_eviction_policy(connection)
    except UnsafeRedisError as exc:
        click.echo(f"error: refusing to start a worker: {exc}", err=True)
        sys.exit(2)
    if warning:
        click.echo(f"warning: {warning}", err=True)


@click.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
    help="RQ's log level: INFO logs every job, periodic ones included.",
)
@with_appcontext
def worker(queues: tuple[str, ...], burst: bool, log_level: str) -> None:
    """Run an RQ worker on QUEUES (default: all, in priority order)."""
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from moderation.core.queueing import QUEUE_GROUPS, QUEUE_NAMES, queue, worker_queue_names
    from moderation.core.redis_conn import patient_redis_from_url, redis_from_url

    try:
        names = worker_queue_names(queues)
    except ValueError as exc:
        known = ", ".join(dict.fromkeys([*QUEUE_GROUPS, *QUEUE_NAMES]))
        raise click.BadParameter(f"unknown queue {exc}; known: {known}") from exc
    # A Redis missing at start is an error at once; once started, a Redis restart pauses this
    # worker instead of ending it (the patient connection, core/redis_conn.py).
    _refuse_unsafe_redis(redis_from_url(current_app.config["REDIS_URL"]))
    connection = patient_redis_from_url(current_app.config["REDIS_URL"])
    # SimpleWorker runs jobs in this process, so the app, database pool and ONNX sessions are
    # created once per worker process (lazily) instead of once per job in a fork. Decoding is
    # fenced by limits; a report whose triage keeps dying is failed after a few attempts.
    # Jobs build their app from the same environment on first use (workers.context).
    SimpleWorker(
        [queue(name, connection) for name in names],
        connection=connection,
        serializer=JSONSerializer,
        # with_scheduler: jobs retried after an interval (RQ's Retry: triage, mail) wait in the
        # scheduled registry, and only a worker running the scheduler moves them back to a queue.
    ).work(burst=burst, logging_level=log_level.upper(), with_scheduler=True)


@click.command("sweep")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def sweep(as_json: bool) -> None:
    """Re-enqueue reports acknowledged but not triaged (the outbox sweeper), once."""
    from moderation.core.redis_conn import get_redis
    from moderation.settings import settings_for
    from moderation.triage.sweeper import sweep_pending

    enqueued = sweep_pending(db.session, get_redis(), settings_for(current_app).sweep)
    click.echo(
        json.dumps({"enqueued": enqueued}) if as_json else f"re-enqueued {len(enqueued)} report(s)"
    )


@click.command("cron")
@click.option("--once", is_flag=True, help="Enqueue what is due and exit.")
@with_appcontext
def cron(once: bool) -> None:
    """Enqueue periodic jobs (the sweeper). Safe to run in several places: a Redis lock per
    period lets only one process enqueue each tick."""
    from moderation.core.redis_conn import patient_redis_from_url, redis_from_url
    from moderation.core.scheduling import run_cron

    redis_from_url(current_app.config["REDIS_URL"]).ping()  # missing at start: one sentence
    run_cron(patient_redis_from_url(current_app.config["REDIS_URL"]), current_app.config, once)


@click.group("audit", help="The hash-chained audit log.")
def audit_group() -> None:
    pass


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def audit_verify(as_json: bool) -> None:
    """Seal pending events, then recompute the whole chain; exit 1 if it is broken."""
    from moderation.audit.events import seal_pending, verify_chain

    seal_pending(db.session)
    verdict = verify_chain(db.session)
    document = {
        "ok": verdict.ok,
        "events": verdict.events,
        "first_bad_id": verdict.first_bad_id,
        "problem": verdict.problem,
        "unsealed": verdict.unsealed,
    }
    if as_json:
        click.echo(json.dumps(document))
    elif verdict.ok:
        click.echo(f"audit chain intact: {verdict.events} events")
    else:
        click.echo(f"audit chain BROKEN at event {verdict.first_bad_id}: {verdict.problem}")
    if not verdict.ok:
        sys.exit(1)


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Load demo data (synthetic media only) into the configured database."""
    from moderation.demo.seed import load_demo

    summary = load_demo(current_app._get_current_object())
    click.echo(json.dumps(summary, indent=2))


def register_cli(app: Flask) -> None:
    for command in (db_group, user_group, platform_group, audit_group, worker, sweep, cron, demo):
        app.cli.add_command(command)
    from moderation.cli.banks import bank_group
    from moderation.cli.reports import report_group

    app.cli.add_command(bank_group)
    app.cli.add_command(report_group)
    from moderation.cli.digests import digest_group

    app.cli.add_command(digest_group)
    from moderation.cli.media import media_group

    app.cli.add_command(media_group)
    from moderation.cli.cases import COMMANDS as case_commands

    for command in case_commands:
        app.cli.add_command(command)


def _create_app() -> Flask:
    from moderation import create_app

    return create_app()


# Messages of a database without our schema: SQLite, then PostgreSQL (psycopg's UndefinedTable).
_MISSING_TABLE = re.compile(r'no such table: (\w+)|relation "(\w+)" does not exist')


def explain_service_error(error: Exception, config: Mapping[str, Any]) -> str | None:
    """One sentence for an error of the database or Redis that a person can fix (a schema not
    yet created, a service that does not answer), or None for anything else. Never includes a
    password: URLs are shown without theirs."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError, ProgrammingError

    if isinstance(error, OperationalError | ProgrammingError):
        missing = _MISSING_TABLE.search(str(error.orig))
        if missing:
            table = missing.group(1) or missing.group(2)
            return (
                f"the database has no schema yet (no table {table!r}): "
                "run `moderation db upgrade` first"
            )
        if isinstance(error, OperationalError):
            url = make_url(str(config.get("DATABASE_URL", ""))).render_as_string(hide_password=True)
            reason = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else ""
            return f"cannot use the database at {url} (MODERATION_DATABASE_URL): {reason}"
    if isinstance(error, RedisConnectionError | RedisTimeoutError):
        from moderation.core.redis_urls import where

        place = where(str(config.get("REDIS_URL", "")))
        return f"cannot reach Redis at {place} (MODERATION_REDIS_URL): {error}"
    return None


def _loaded_config(ctx: click.Context) -> Mapping[str, Any]:
    """The config of the app this invocation loaded (ScriptInfo caches it); empty if none."""
    try:
        return ctx.ensure_object(ScriptInfo).load_app().config
    except Exception:  # noqa: BLE001 - only used to word a message; the app failed to load
        return {}


class ModerationGroup(FlaskGroup):
    """The `moderation` group; errors of the database or Redis that a person can fix end as one
    sentence and exit 1 here, for every command, instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            message = explain_service_error(exc, _loaded_config(ctx))
            if message is None:
                raise
            raise click.ClickException(message) from None


main = ModerationGroup(create_app=_create_app, help="The moderation queue.")
