"""Evidence packages: everything a police officer needs about a case, in one signed BagIt bag.

`build_package` reads the case, its reports, their media (decrypted only into the package in
memory, never re-encoded) and the custody log, and returns the ZIP's bytes; `export_case` does
that, records the export as an audit event (who, which items, the package's SHA-256) and
commits. The command line writes the bytes where it is told; the case page will send them.

data/ holds `case.json` (the machine-readable record), `summary.html` (for a person, in the
case's language) and `media/R<report>-M<media>-<sha256 prefix>.<ext>`, the original bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from models import Case, utcnow
from moderation.accounts.permissions import Action, can
from moderation.audit import events as audit
from moderation.cases import bag, transport
from moderation.cases.access import require_case
from moderation.cases.actor import Actor
from moderation.cases.evidence_document import build_document
from moderation.cases.settings import CaseSettings
from moderation.cases.signing import EvidenceSigner
from moderation.core.errors import ForbiddenError
from moderation.media.store import MediaStore, MediaStoreError

# (document, language) -> summary HTML; moderation/cases/summary.py renders the template.
SummaryRenderer = Callable[[dict[str, Any], str], str]


@dataclass(frozen=True)
class Package:
    data: bytes
    filename: str
    sha256: str
    number: str
    report_ids: list[int]
    media_ids: list[int]
    missing_media_ids: list[int]
    key_fingerprint: str
    # Transport encryption (moderation/cases/transport.py): then `data` is the encrypted file,
    # `sha256` its hash, and `signed_sha256` the hash of the signed package inside.
    passphrase: str | None = None
    signed_sha256: str | None = None


def build_package(
    session: Session,
    store: MediaStore,
    case: Case,
    settings: CaseSettings,
    signer: EvidenceSigner,
    actor: Actor,
    render_summary: SummaryRenderer,
) -> Package:
    """The signed ZIP of the case, built in memory (no plaintext on disk). A medium whose bytes
    are gone (shredded) or fail their integrity check is listed in case.json as not included."""
    document, files = build_document(session, case, settings, signer, actor)
    payload: list[tuple[str, bytes]] = []
    included, missing = [], []
    by_id = {doc["id"]: doc for doc in document["media"]}
    for item, name in files:
        doc = by_id[item.id]
        if not doc["included"] or item.storage_key is None:
            doc["included"] = False
            missing.append(item.id)
            continue
        try:
            data = store.get(item.storage_key)  # re-checks the SHA-256 on read
        except MediaStoreError:
            doc["included"], doc["problem"] = False, "unreadable or failed its integrity check"
            missing.append(item.id)
            continue
        doc["package_sha512"] = hashlib.sha512(data).hexdigest()
        payload.append((name, data))
        included.append(item.id)
    case_json = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False).encode()
    summary = render_summary(document, case.language).encode()
    payload = [("case.json", case_json), ("summary.html", summary), *payload]
    now = utcnow()
    info = [
        ("Source-Organization", settings.organization),
        ("External-Identifier", case.number),
        ("External-Description", f"Evidence package of case {case.number}"),
        ("Bag-Software-Agent", "moderation-queue evidence export"),
        ("Bag-Group-Identifier", f"case-{case.id}"),
    ]
    files_of_bag = bag.build_bag(payload, info, now)
    data = bag.package_zip(case.number, files_of_bag, signer, now)
    return Package(
        data=data,
        filename=f"{case.number}.zip",
        sha256=hashlib.sha256(data).hexdigest(),
        number=case.number,
        report_ids=[r["id"] for r in document["reports"]],
        media_ids=included,
        missing_media_ids=missing,
        key_fingerprint=signer.fingerprint,
    )


def export_case(
    session: Session,
    store: MediaStore,
    case_id: int,
    *,
    actor: Actor,
    settings: CaseSettings,
    signer: EvidenceSigner,
    render_summary: SummaryRenderer,
    encrypt: bool = False,
) -> Package:
    """Build the case's evidence package and record the export (who, which reports and media,
    the package's SHA-256, the signing key) as an audit event; commits. With `encrypt`, the
    package is wrapped for transport under a new passphrase, returned once in the Package and
    never stored or logged. Raises NotFoundError for a case the actor may not know,
    ForbiddenError for a role that may not export."""
    if actor.user is not None and not can(actor.user, Action.EXPORT_EVIDENCE):
        raise ForbiddenError("you do not have permission to do that")
    case = require_case(session, case_id, actor)
    package = build_package(session, store, case, settings, signer, actor, render_summary)
    if encrypt:
        passphrase = transport.new_passphrase()
        sealed = transport.encrypt(package.data, package.filename, passphrase)
        package = dataclasses.replace(
            package,
            data=sealed,
            filename=f"{package.number}.encrypted.zip",
            sha256=hashlib.sha256(sealed).hexdigest(),
            passphrase=passphrase,
            signed_sha256=package.sha256,
        )
    audit.record(
        session,
        "evidence.export",
        **actor.audit(),
        object_type="case",
        object_id=case.id,
        details={
            "number": package.number,
            "report_ids": package.report_ids,
            "media_ids": package.media_ids,
            "missing_media_ids": package.missing_media_ids,
            "package_sha256": package.signed_sha256 or package.sha256,
            "encrypted_sha256": package.sha256 if encrypt else None,
            "key_fingerprint": package.key_fingerprint,
        },
    )
    session.commit()
    return package
