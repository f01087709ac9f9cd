"""People-facing words for the codes the review pages show (statuses, who reported, signal and
media kinds, roles), in the reader's language: no raw `in_review` or `victim` in the Korean UI."""

from __future__ import annotations

from flask_babel import lazy_gettext

from models import BankKind, MediaKind, ReporterKind, ReportStatus, Role, SignalKind

LABELS: dict[str, dict[str, object]] = {
    "status": {
        ReportStatus.RECEIVED: lazy_gettext("received"),
        ReportStatus.TRIAGING: lazy_gettext("being analysed"),
        ReportStatus.QUEUED: lazy_gettext("waiting"),
        ReportStatus.IN_REVIEW: lazy_gettext("in review"),
        ReportStatus.DECIDED: lazy_gettext("decided"),
        ReportStatus.ESCALATED: lazy_gettext("escalated"),
    },
    "reporter": {
        ReporterKind.USER: lazy_gettext("a user"),
        ReporterKind.VICTIM: lazy_gettext("the person shown"),
        ReporterKind.TRUSTED_FLAGGER: lazy_gettext("a trusted flagger"),
        ReporterKind.AUTOMATED: lazy_gettext("an automated system"),
    },
    "signal": {
        SignalKind.TEXT: lazy_gettext("text"),
        SignalKind.CLASSIFIER: lazy_gettext("image detector"),
        SignalKind.CLASSIFIER_ERROR: lazy_gettext("image detector failed"),
        SignalKind.BANK: lazy_gettext("hash bank"),
        SignalKind.CLUSTER: lazy_gettext("same content"),
    },
    "media": {
        MediaKind.IMAGE: lazy_gettext("image"),
        MediaKind.VIDEO: lazy_gettext("video"),
    },
    "bank": {
        BankKind.CSAM: lazy_gettext("known child sexual abuse material"),
        BankKind.VICTIM_SUBMITTED: lazy_gettext("registered by the person shown"),
        BankKind.CONFIRMED: lazy_gettext("confirmed by our moderators"),
        BankKind.IMPORTED: lazy_gettext("imported"),
        BankKind.OTHER: lazy_gettext("other"),
    },
    # What the text detectors found (moderation/text_signals: lexicon.py and doxxing.py).
    "text": {
        "acquaintance_humiliation": lazy_gettext("acquaintance humiliation (지인능욕)"),
        "humiliation": lazy_gettext("sexual humiliation"),
        "deepfake": lazy_gettext("deepfake"),
        "sexual_composite": lazy_gettext("sexual composite image"),
        "sexual_objectification": lazy_gettext("rating or sexualising a body"),
        "nudify": lazy_gettext("nudify request or tool"),
        "ncii": lazy_gettext("intimate images shared without consent"),
        "doxxing_intent": lazy_gettext("call to expose someone"),
        "spread_call": lazy_gettext("call to spread pictures"),
        "sexual_slur": lazy_gettext("sexual slur"),
        "rape_threat": lazy_gettext("rape threat"),
        "violence_threat": lazy_gettext("threat of violence"),
        "intimidation": lazy_gettext("intimidation"),
        "phone_kr_mobile": lazy_gettext("mobile phone number"),
        "phone_kr_landline": lazy_gettext("phone number"),
        "rrn": lazy_gettext("resident registration number"),
        "email": lazy_gettext("email address"),
        "address_kr": lazy_gettext("home address"),
        "address": lazy_gettext("home address"),
        "school_class": lazy_gettext("school and class"),
        "sns_handle": lazy_gettext("social media account"),
        "kakao_id": lazy_gettext("KakaoTalk ID"),
    },
    "role": {
        Role.MODERATOR: lazy_gettext("moderator"),
        Role.SENIOR: lazy_gettext("senior moderator"),
        Role.LIAISON: lazy_gettext("law-enforcement liaison"),
        Role.ADMIN: lazy_gettext("administrator"),
    },
}


def label(code: object, vocabulary: str) -> str:
    """`code` in words from `vocabulary` (status, reporter, signal, media, role); the code
    itself when it is not one we know (a value from a newer release, say)."""
    words = LABELS.get(vocabulary, {}).get(str(code or ""))
    return str(words) if words is not None else str(code or "")
