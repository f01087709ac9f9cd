"""The evidence summary page (data/summary.html) in the case's language. Rendered from the
app's Jinja environment directly, not `render_template`: an export may run from the command
line, where there is no request for the page's usual context (language cookie, user). The
caller (a view, a command) hands over the environment; this module never looks for an app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask_babel import force_locale, lazy_gettext
from jinja2 import Environment

TYPE_LABELS = {
    "ncii": lazy_gettext("Non-consensual intimate imagery"),
    "synthetic_sexual": lazy_gettext("Synthetic sexual imagery"),
    "doxxing_incitement": lazy_gettext("Doxxing or incitement"),
    "csam_suspected": lazy_gettext("Suspected child sexual abuse material"),
    "other": lazy_gettext("Other"),
}
URGENCY_LABELS = {
    "routine": lazy_gettext("Routine"),
    "urgent": lazy_gettext("Urgent"),
    "immediate": lazy_gettext("Immediate: a person is in danger"),
}
STATUS_LABELS = {
    "open": lazy_gettext("Open"),
    "referred": lazy_gettext("Referred to police"),
    "acknowledged": lazy_gettext("Acknowledged by police"),
    "closed": lazy_gettext("Closed"),
}
REPORTER_LABELS = {
    "user": lazy_gettext("a user"),
    "victim": lazy_gettext("the person shown"),
    "trusted_flagger": lazy_gettext("a trusted flagger"),
    "automated": lazy_gettext("an automated system"),
}


POLICY_LABELS = {
    "remove.ncii": lazy_gettext("Removed: non-consensual intimate imagery"),
    "remove.synthetic_sexual": lazy_gettext("Removed: synthetic sexual imagery"),
    "remove.doxxing": lazy_gettext("Removed: doxxing"),
    "remove.harassment": lazy_gettext("Removed: harassment"),
    "remove.incitement": lazy_gettext("Removed: incitement"),
    "no_violation": lazy_gettext("No violation"),
    "needs_context": lazy_gettext("Needs more context"),
    "escalate": lazy_gettext("Escalated to a liaison"),
}


def when(value: str | None) -> str:
    """An ISO time as a person reads it: "2026-12-03 13:18:16 UTC" ("" when unknown)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


class _Labels:
    """Codes in words, in the current language (unknown codes as they are)."""

    @staticmethod
    def _of(table: dict[str, Any], code: str | None) -> str:
        return str(table.get(code or "", code or ""))

    def type(self, code: str | None) -> str:
        return self._of(TYPE_LABELS, code)

    def urgency(self, code: str | None) -> str:
        return self._of(URGENCY_LABELS, code)

    def status(self, code: str | None) -> str:
        return self._of(STATUS_LABELS, code)

    def reporter(self, code: str | None) -> str:
        return self._of(REPORTER_LABELS, code)

    def policy(self, code: str | None) -> str:
        return self._of(POLICY_LABELS, code)

    @staticmethod
    def when(value: str | None) -> str:
        return when(value)


def summary_renderer(jinja_env: Environment) -> Callable[[dict[str, Any], str], str]:
    """A renderer of the summary of an evidence document (case.json's dict) in a language
    ("en" or "ko"), from the app's Jinja environment; rendering needs an app context (for the
    translations)."""

    def render_summary(document: dict[str, Any], language: str) -> str:
        template = jinja_env.get_template("cases/evidence_summary.html")
        with force_locale(language):
            return template.render(doc=document, language=language, labels=_Labels())

    return render_summary
