"""People-facing wording of priority reasons and report categories, in the reader's language.

Reasons are stored with an English `detail` (for the API and logs) plus their `code` and numeric
`params`; pages render them from the code so a Korean moderator reads Korean. An unknown code
falls back to the stored detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext, lazy_gettext

from models import BankKind, Category, ReporterKind

CATEGORY_LABELS = {
    Category.NCII: lazy_gettext("NCII"),
    Category.SYNTHETIC_SEXUAL: lazy_gettext("Synthetic sexual"),
    Category.SEXUAL_HARASSMENT: lazy_gettext("Sexual harassment"),
    Category.DOXXING: lazy_gettext("Doxxing"),
    Category.INCITEMENT: lazy_gettext("Incitement"),
    Category.CSAM_SUSPECTED: lazy_gettext("Suspected CSAM"),
    Category.OTHER: lazy_gettext("Other"),
}

REPORTER_LABELS = {
    ReporterKind.USER: lazy_gettext("a user"),
    ReporterKind.VICTIM: lazy_gettext("the person shown"),
    ReporterKind.TRUSTED_FLAGGER: lazy_gettext("a trusted flagger"),
    ReporterKind.AUTOMATED: lazy_gettext("an automated system"),
}

BANK_LABELS = {
    BankKind.CSAM: lazy_gettext("matches a known-CSAM hash list"),
    # Victim-submitted banks hold hashes people registered of their own photos (/protect,
    # StopNCII); saying so tells a moderator whose wish the match carries.
    BankKind.VICTIM_SUBMITTED: lazy_gettext("matches a photo its subject registered"),
    BankKind.CONFIRMED: lazy_gettext("matches a confirmed-violation hash bank"),
    BankKind.IMPORTED: lazy_gettext("matches an imported hash bank"),
    BankKind.OTHER: lazy_gettext("matches a hash bank"),
}

TEXT_LABELS = {
    "doxxing": lazy_gettext("%(count)s doxxing signal(s) in the text"),
    "incitement": lazy_gettext("%(count)s incitement signal(s) in the text"),
    "lexicon": lazy_gettext("%(count)s abuse-vocabulary signal(s) in the text"),
}

FIXED = {
    "nudity.face_with_exposed": lazy_gettext("a face and exposed intimate parts in one image"),
    "nudity.exposed": lazy_gettext("exposed intimate parts detected"),
    "minor.suspected": lazy_gettext("reported as suspected child abuse material (no age model)"),
    "minor.text_hint": lazy_gettext("the text suggests the person may be a minor (no age model)"),
    "sla.overdue": lazy_gettext("past its review deadline"),
}


def category_label(code: str | None) -> str:
    label = CATEGORY_LABELS.get(code or "")
    return str(label) if label is not None else (code or "")


def reason_text(reason: Mapping[str, Any]) -> str:
    """The reason in the current language; the stored English detail for unknown codes."""
    code = str(reason.get("code", ""))
    params = reason.get("params") or {}
    head, _, tail = code.partition(".")
    if code in FIXED:
        return str(FIXED[code])
    if head == "category" and tail in CATEGORY_LABELS:
        return gettext("reported as: %(category)s", category=category_label(tail))
    if head == "reporter" and tail in REPORTER_LABELS:
        return gettext("reported by %(who)s", who=str(REPORTER_LABELS[tail]))
    if head == "bank" and tail in BANK_LABELS:
        return str(BANK_LABELS[tail])
    if head == "text" and tail in TEXT_LABELS and "count" in params:
        return str(TEXT_LABELS[tail]) % {"count": params["count"]}
    if code == "reach" and "members" in params:
        return gettext("posted where %(members)s people can see it", members=params["members"])
    if code == "reshares" and "count" in params:
        return gettext("%(count)s reports of the same content", count=params["count"])
    if code == "media.failed" and "count" in params:
        return gettext("%(count)s media could not be processed", count=params["count"])
    if code == "sla.elapsed" and "percent" in params:
        return gettext("%(percent)s%% of its review time used", percent=params["percent"])
    return str(reason.get("detail", code))
