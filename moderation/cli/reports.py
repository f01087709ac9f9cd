"""`moderation report transparency`: the yearly (or any period's) transparency figures."""

from __future__ import annotations

import json
import sys
from datetime import date

import click
from flask import current_app
from flask.cli import with_appcontext

from moderation.core.db import db


def _day(_ctx: click.Context, _param: click.Parameter, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD") from None


@click.group("report", help="Reports for the public and regulators.")
def report_group() -> None:
    pass


@report_group.command("transparency")
@click.option("--from", "start", required=True, callback=_day, help="First day (UTC), YYYY-MM-DD.")
@click.option("--to", "end", required=True, callback=_day, help="Last day (UTC), included.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json")
@with_appcontext
def transparency(start: date, end: date, fmt: str) -> None:
    """Notices by category and source, actions, time to action (median, p90), share within SLA,
    escalations and police requests answered, appeals and reversals, for a period."""
    from moderation.outcomes.transparency import as_csv
    from moderation.outcomes.transparency import transparency as figures
    from moderation.settings import settings_for

    if end < start:
        click.echo("error: --to is before --from", err=True)
        sys.exit(1)
    report = figures(db.session, start, end, settings_for(current_app).review.sla_hours)
    db.session.commit()
    click.echo(json.dumps(report, indent=2) if fmt == "json" else as_csv(report), nl=fmt == "json")
