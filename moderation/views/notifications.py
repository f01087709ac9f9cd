"""Notification pages: a person's own preferences (/account/notifications), and the
unsubscribe link of every digest (/unsubscribe/<token>), which works signed out, shows nothing
about the account, and refuses a forged token with the same page as an unknown one."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from moderation.core.db import db
from moderation.core.errors import ValidationError
from moderation.core.extensions import csrf
from moderation.notifications import preferences, unsubscribe
from moderation.settings import settings_for

bp = Blueprint("notifications", __name__)

SCHEDULES = ("daily", "twice_daily", "off")


def _settings():  # type: ignore[no-untyped-def]
    return settings_for(current_app).notifications


@bp.route("/account/notifications", methods=["GET", "POST"])
@login_required
def preferences_page() -> str | Response | tuple[str, int]:
    """Language, time zone, digest schedule, urgent alerts and (seniors, admins) the queue
    digest. 422 for a value that is not one of the choices."""
    settings = _settings()
    status = 200
    if request.method == "POST":
        form = request.form
        try:
            preferences.save(
                db.session,
                current_user.id,
                settings,
                language=form.get("language", ""),
                time_zone=form.get("time_zone", ""),
                digest_schedule=form.get("digest_schedule", ""),
                urgent_alerts=form.get("urgent_alerts") == "1",
                queue_digest=form.get("queue_digest") == "1",
            )
        except ValidationError as error:
            flash(error.message, "error")
            status = 422
        else:
            flash(_("Your notification settings were saved."), "info")
            return redirect(url_for("notifications.preferences_page"))
    return (
        render_template(
            "notifications/preferences.html",
            prefs=preferences.get(db.session, current_user.id, settings),
            schedules=SCHEDULES,
            time_zones=preferences.time_zones(),
            may_queue_digest=str(current_user.role) in preferences.QUEUE_DIGEST_ROLES,
        ),
        status,
    )


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str) -> tuple[str, int]:
    """Asks before turning digests off (a link scanner that follows links must not unsubscribe
    anyone). 404 for a forged or unknown token; the page names no one either way."""
    if unsubscribe.read_token(_settings(), token) is None:
        return render_template("notifications/unsubscribe.html", state="invalid"), 404
    return render_template("notifications/unsubscribe.html", state="ask", token=token), 200


@bp.post("/unsubscribe/<token>")
@csrf.exempt
def unsubscribe_confirm(token: str) -> tuple[str, int]:
    """Turn digests off (also the one-click POST of RFC 8058 from a mail client, which carries
    no CSRF token: the signed token is the proof). 404 for a forged or unknown token."""
    key = unsubscribe.read_token(_settings(), token)
    if key is None or not preferences.unsubscribe(db.session, key):
        return render_template("notifications/unsubscribe.html", state="invalid"), 404
    return render_template("notifications/unsubscribe.html", state="done"), 200
