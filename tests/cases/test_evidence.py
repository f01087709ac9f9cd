"""Evidence packages: escalate a cluster -> case -> export; the ZIP holds a BagIt bag the
`bagit` library validates, with the original bytes, case.json whose hashes match them, a
summary in the case's language, and an Ed25519 signature `cryptography` verifies; one flipped
byte in a medium or in case.json makes `moderation evidence verify` fail naming the file."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import bagit
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import select

from models import AuditEvent, Media, User
from moderation.audit import events as audit
from moderation.cases import evidence
from moderation.cases.actor import Actor
from moderation.cases.settings import CaseSettings
from moderation.cases.signing import EvidenceSigner
from moderation.cases.summary import summary_renderer
from moderation.core.db import db
from moderation.core.errors import ForbiddenError, NotFoundError
from moderation.media.store import media_store_for
from tests.cases.case_factories import escalate, fast_triage, reencoded, triaged_reports
from tests.factories import make_image, make_user

# The bagit package's own command, installed beside this interpreter.
BAGIT_CLI = Path(sys.executable).parent / "bagit.py"


def _case_from_cluster(app, client, runner, tmp_path, language="en"):
    """Three copies of one picture (two byte-identical, one re-encoded) and a second picture in
    one report: triaged, the cluster escalated by a senior, a case opened from one report with
    its cluster. Returns (case document, originals by SHA-256)."""
    fast_triage(app, tmp_path)
    senior = make_user(app, "lead@example.org", "senior")
    picture, other = make_image(40, (480, 360)), make_image(41, (400, 300), fmt="PNG")
    sets = [[picture, other], [picture], [reencoded(picture)]]
    ids = triaged_reports(app, client, sets)
    escalate(app, ids[0], senior, "shared in a group chat with her address", cluster=True)
    opened = runner.invoke(
        args=["case", "open", str(ids[0]), "--with-cluster", "--type", "ncii", "--json",
              "--language", language]
    )  # fmt: skip
    assert opened.exit_code == 0, opened.output
    doc = json.loads(opened.output)
    assert [r["id"] for r in doc["reports"]] == ids
    originals = {hashlib.sha256(d).hexdigest(): d for d in (picture, other, reencoded(picture))}
    return doc, originals


def _export(runner, case_id, out: Path) -> dict:
    result = runner.invoke(args=["case", "export", str(case_id), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _rewrite(zip_path: Path, member_suffix: str, out: Path) -> str:
    """A copy of the package with one byte of one member flipped; returns the member's name."""
    changed = ""
    with zipfile.ZipFile(zip_path) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if not changed and info.filename.endswith(member_suffix):
                data = bytes([data[0] ^ 0x01]) + data[1:]
                changed = info.filename
            target.writestr(info, data)
    assert changed
    return changed


def test_export_is_a_valid_signed_bag_of_the_original_bytes(app, client, runner, tmp_path):
    case, originals = _case_from_cluster(app, client, runner, tmp_path)
    out = tmp_path / "package.zip"
    exported = _export(runner, case["id"], out)
    raw = out.read_bytes()
    assert exported["sha256"] == hashlib.sha256(raw).hexdigest()
    assert oct(out.stat().st_mode & 0o777) == "0o600"  # it holds originals
    number = case["number"]

    extracted = tmp_path / "extracted"
    with zipfile.ZipFile(out) as archive:
        archive.extractall(extracted)
        names = set(archive.namelist())
    assert f"{number}.tagmanifest-sha256.txt.sig" in names
    assert f"{number}.public-key.pem" in names
    bag_dir = extracted / number
    bag = bagit.Bag(str(bag_dir))
    bag.validate()  # the maintained library, as a recipient would run it
    assert set(bag.algorithms) == {"sha256", "sha512"}
    assert bag.info["External-Identifier"] == number
    assert bag.info["Source-Organization"] == app.config["ORGANIZATION_NAME"]

    document = json.loads((bag_dir / "data" / "case.json").read_text())
    assert document["case"]["number"] == number
    assert [r["id"] for r in document["reports"]] == [r["id"] for r in case["reports"]]
    manifest = dict(
        reversed(line.split(None, 1))
        for line in (bag_dir / "manifest-sha256.txt").read_text().splitlines()
    )
    assert len(document["media"]) == 4
    for medium in document["media"]:
        data = (bag_dir / medium["file"]).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        # case.json, the bag's manifest and the original bytes all agree.
        assert medium["included"] and digest == medium["sha256"] == manifest[medium["file"]]
        assert data == originals[digest]
        assert medium["md5"] == hashlib.md5(data).hexdigest()  # noqa: S324 - a recorded hash
        assert medium["pdq"] and medium["size_bytes"] == len(data)
    report = document["reports"][0]
    assert report["content_url"] == "https://social.example/p/1"
    assert report["reported_at"].startswith("2026-11-20T10:00:00")
    assert report["decisions"][0]["policy"] == "escalate"
    assert report["decisions"][0]["by"] == "lead@example.org"
    assert report["channel"] == {"id": "room-1", "name": None, "member_count": 2400}
    assert document["accounts"][0]["id"] == "acct-9"
    timeline = document["spread_timeline"]
    assert [row["first_seen"] for row in timeline] == [True, False, False]
    assert timeline[0]["report_id"] == report["id"]  # reported first

    # The signature over tagmanifest-sha256.txt verifies with cryptography and is ours.
    public_key = load_pem_public_key((extracted / f"{number}.public-key.pem").read_bytes())
    assert isinstance(public_key, Ed25519PublicKey)
    public_key.verify(
        (extracted / f"{number}.tagmanifest-sha256.txt.sig").read_bytes(),
        (bag_dir / "tagmanifest-sha256.txt").read_bytes(),
    )
    signer = EvidenceSigner.from_config(app.config)
    assert (
        document["signing_key"]["fingerprint"] == signer.fingerprint == exported["key_fingerprint"]
    )

    summary = (bag_dir / "data" / "summary.html").read_text()
    assert number in summary and signer.fingerprint in summary and "first seen" in summary
    assert "<script" not in summary

    with app.app_context():
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "evidence.export")
        ).scalar_one()
        assert event.actor_kind == "cli" and event.object_id == str(case["id"])
        assert event.details["package_sha256"] == exported["sha256"]
        assert sorted(event.details["media_ids"]) == sorted(m["id"] for m in document["media"])
        assert event.details["report_ids"] == [r["id"] for r in case["reports"]]
        # The custody excerpt: every event's hash recomputes, and the chain still verifies.
        for row in document["custody_log"]["events"]:
            from datetime import datetime

            recomputed = audit.event_hash(
                row["prev_hash"], row["seq"], datetime.fromisoformat(row["at"]), row["actor"],
                row["actor_kind"], row["action"], row["object_type"], row["object_id"],
                row["details"],
            )  # fmt: skip
            assert recomputed == row["row_hash"]
        actions = {row["action"] for row in document["custody_log"]["events"]}
        assert {"case.open", "decision.record_cluster", "hold.place"} <= actions
        audit.seal_pending(db.session)
        assert audit.verify_chain(db.session).ok

    verified = runner.invoke(args=["evidence", "verify", str(out), "--json"])
    assert verified.exit_code == 0, verified.output
    verdict = json.loads(verified.output)
    assert verdict["ok"] and verdict["key"] == "current" and verdict["number"] == number
    assert runner.invoke(args=["evidence", "verify", str(extracted)]).exit_code == 0

    # One flipped byte in a medium, then in case.json: caught, and the file is named.
    for suffix in (".jpg", "data/case.json"):
        tampered = tmp_path / f"tampered{suffix.replace('/', '_')}.zip"
        member = _rewrite(out, suffix, tampered)
        failed = runner.invoke(args=["evidence", "verify", str(tampered), "--json"])
        assert failed.exit_code == 1, failed.output
        problems = json.loads(failed.output)["problems"]
        assert [p["file"] for p in problems] == [member.split("/", 1)[1]], problems
        text = runner.invoke(args=["evidence", "verify", str(tampered)])
        assert text.exit_code == 1 and member.split("/", 1)[1] in text.output

    # The extracted copy, checked by the bagit library through our command.
    medium_file = bag_dir / document["media"][1]["file"]
    data = bytearray(medium_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    medium_file.write_bytes(bytes(data))
    failed = runner.invoke(args=["evidence", "verify", str(extracted), "--json"])
    assert failed.exit_code == 1, failed.output
    assert json.loads(failed.output)["problems"] == [
        {"file": document["media"][1]["file"], "problem": "does not match the manifest"}
    ]


def test_a_changed_signature_or_manifest_is_caught(app, client, runner, tmp_path):
    case, _ = _case_from_cluster(app, client, runner, tmp_path)
    out = tmp_path / "package.zip"
    _export(runner, case["id"], out)
    for suffix, named in ((".sig", ".sig"), ("/manifest-sha256.txt", "manifest-sha256.txt")):
        tampered = tmp_path / "t.zip"
        _rewrite(out, suffix, tampered)
        failed = runner.invoke(args=["evidence", "verify", str(tampered), "--json"])
        assert failed.exit_code == 1
        assert any(p["file"].endswith(named) for p in json.loads(failed.output)["problems"])
    # A file slipped into the bag is named too.
    tampered = tmp_path / "extra.zip"
    shutil.copy(out, tampered)
    with zipfile.ZipFile(tampered, "a") as archive:
        archive.writestr(f"{case['number']}/data/media/extra.jpg", b"not evidence")
    failed = json.loads(runner.invoke(args=["evidence", "verify", str(tampered), "--json"]).output)
    assert "data/media/extra.jpg" in [p["file"] for p in failed["problems"]]


def test_a_recipient_verifies_without_our_software(app, client, runner, tmp_path):
    """The commands docs/EVIDENCE.md and the summary give: bagit.py --validate and openssl."""
    case, _ = _case_from_cluster(app, client, runner, tmp_path)
    out = tmp_path / "package.zip"
    _export(runner, case["id"], out)
    with zipfile.ZipFile(out) as archive:
        archive.extractall(tmp_path / "x")
    number = case["number"]
    work = tmp_path / "x"
    bagit_cli = subprocess.run(
        [str(BAGIT_CLI), "--validate", number], cwd=work, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert bagit_cli.returncode == 0, bagit_cli.stderr
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    command = [
        "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", f"{number}.public-key.pem",
        "-rawin", "-in", f"{number}/tagmanifest-sha256.txt",
        "-sigfile", f"{number}.tagmanifest-sha256.txt.sig",
    ]  # fmt: skip
    checked = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and "Signature Verified Successfully" in checked.stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", f"{number}.public-key.pem", "-outform", "DER"],
        cwd=work, capture_output=True, timeout=60,
    )  # fmt: skip
    signer = EvidenceSigner.from_config(app.config)
    assert hashlib.sha256(der.stdout).hexdigest() == signer.fingerprint.replace(" ", "")
    manifest = work / number / "tagmanifest-sha256.txt"
    manifest.write_bytes(manifest.read_bytes() + b"\n")
    tampered = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=60)
    assert tampered.returncode != 0


def test_rotated_keys_still_verify_as_ours(app, client, runner, tmp_path):
    case, _ = _case_from_cluster(app, client, runner, tmp_path)
    out = tmp_path / "package.zip"
    _export(runner, case["id"], out)
    old = json.loads(runner.invoke(args=["evidence", "key", "--json"]).output)
    new_key = runner.invoke(args=["evidence", "new-key"]).output.strip()
    assert len(base64.b64decode(new_key)) == 32
    app.config["EVIDENCE_SIGNING_KEY"] = new_key
    app.config["EVIDENCE_RETIRED_PUBLIC_KEYS"] = [old["public_key_pem"]]
    verdict = json.loads(runner.invoke(args=["evidence", "verify", str(out), "--json"]).output)
    assert verdict["ok"] and verdict["key"] == "retired"
    newer = _export(runner, case["id"], tmp_path / "newer.zip")
    assert newer["key_fingerprint"] != old["fingerprint"]
    app.config["EVIDENCE_RETIRED_PUBLIC_KEYS"] = []
    verdict = json.loads(runner.invoke(args=["evidence", "verify", str(out), "--json"]).output)
    # Intact, but not signed by any key this instance knows: said, not hidden.
    assert verdict["ok"] and verdict["key"] is None
    assert "NOT this instance's" in runner.invoke(args=["evidence", "verify", str(out)]).output


def test_korean_summary_and_who_may_export(app, client, runner, tmp_path):
    case, _ = _case_from_cluster(app, client, runner, tmp_path, language="ko")
    make_user(app, "mod@example.org", "moderator")
    make_user(app, "other@example.org", "liaison")
    make_user(app, "liaison@example.org", "liaison")
    assert (
        runner.invoke(args=["case", "assign", str(case["id"]), "liaison@example.org"]).exit_code
        == 0
    )
    with app.app_context():
        store = media_store_for(app.config)
        settings = CaseSettings.from_config(app.config)
        signer = EvidenceSigner.from_config(app.config)

        def export_as(email):
            user = db.session.execute(select(User).where(User.email == email)).scalar_one()
            return evidence.export_case(
                db.session, store, case["id"], actor=Actor.of(user, settings.csam_roles),
                settings=settings, signer=signer, render_summary=summary_renderer(app.jinja_env),
            )  # fmt: skip

        with pytest.raises(ForbiddenError):
            export_as("mod@example.org")
        with pytest.raises(NotFoundError):
            export_as("other@example.org")  # another liaison's case does not exist for them
        package = export_as("liaison@example.org")
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        summary = archive.read(f"{case['number']}/data/summary.html").decode()
    assert '<html lang="ko">' in summary and "증거 패키지" in summary and "유포 경로" in summary
    assert "비동의 촬영·유포 성적 이미지" in summary


def test_every_summary_message_has_a_korean_translation():
    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[2]
    with open(root / "translations/cases/ko/LC_MESSAGES/messages.po", "rb") as handle:
        catalog = read_po(handle, locale="ko")
    translated = {message.id for message in catalog if message.id and message.string}
    wanted = set()
    for path, method in (
        ("templates/cases/evidence_summary.html", "jinja2.ext:babel_extract"),
        ("moderation/cases/summary.py", "python"),
    ):
        for _line, message, _comments, _context in extract_from_file(
            method, str(root / path), keywords={"_": None, "lazy_gettext": None}
        ):
            wanted.add(message if isinstance(message, str) else message[0])
    assert wanted and wanted <= translated, sorted(wanted - translated)


def test_media_rows_are_not_changed_by_an_export(app, client, runner, tmp_path):
    case, _ = _case_from_cluster(app, client, runner, tmp_path)
    with app.app_context():
        before = [
            (m.id, m.sha256, m.storage_key) for m in db.session.execute(select(Media)).scalars()
        ]
    _export(runner, case["id"], tmp_path / "p.zip")
    with app.app_context():
        after = [
            (m.id, m.sha256, m.storage_key) for m in db.session.execute(select(Media)).scalars()
        ]
    assert before == after


def test_the_summary_escapes_what_reporters_and_posters_wrote(app):
    """Report texts are hostile input: in the summary they are text, never markup."""
    document = {
        "organization": "Org", "generated_at": "2026-12-01T00:00:00+00:00",
        "signing_key": {"fingerprint": "ab12"},
        "case": {"number": "C-2026-0001", "type": "ncii", "urgency": "routine",
                 "status": "open", "opened_at": "x", "referral": {"due_at": "y"},
                 "assigned_liaison": None, "reason": "<b>why</b>"},
        "reports": [{
            "id": 1, "platform": "acme", "external_id": "e", "category": "ncii",
            "content_url": "javascript:alert(1)", "reported_at": None, "received_at": "z",
            "reporter_kind": "victim", "posted_by": {"handle": "<img src=x onerror=alert(1)>",
            "id": "a"}, "channel": {"id": "c", "name": None, "member_count": None},
            "content_text": "<script>alert(1)</script>", "comment": None, "decisions": [],
        }],
        "media": [], "spread_timeline": [], "custody_log": {"events": [], "chain_head": None},
    }  # fmt: skip
    with app.app_context():
        html = summary_renderer(app.jinja_env)(document, "en")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "<b>why</b>" not in html
    assert 'href="javascript' not in html


def test_an_encrypted_package_opens_only_with_its_passphrase(app, client, runner, tmp_path):
    case, originals = _case_from_cluster(app, client, runner, tmp_path)
    out = tmp_path / "sealed.zip"
    result = runner.invoke(
        args=["case", "export", str(case["id"]), "--out", str(out), "--encrypt", "--json"]
    )
    assert result.exit_code == 0, result.output
    exported = json.loads(result.output)
    passphrase = exported["passphrase"]
    assert (
        len(passphrase) == 35 and exported["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    )
    raw = out.read_bytes()
    for data in originals.values():
        assert data[:64] not in raw  # nothing readable outside
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == [f"{case['number']}.zip"]  # names hidden inside
        with pytest.raises(RuntimeError):
            archive.read(archive.namelist()[0])
    refused = runner.invoke(args=["evidence", "verify", str(out), "--json"])
    assert refused.exit_code == 1 and json.loads(refused.output)["error"] == "encrypted"
    wrong = runner.invoke(
        args=["evidence", "verify", str(out), "--passphrase-stdin", "--json"], input="nope\n"
    )
    assert wrong.exit_code == 1 and json.loads(wrong.output)["error"] == "bad_passphrase"
    right = runner.invoke(
        args=["evidence", "verify", str(out), "--passphrase-stdin", "--json"],
        input=passphrase + "\n",
    )
    assert right.exit_code == 0 and json.loads(right.output)["ok"], right.output
    with app.app_context():
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "evidence.export")
        ).scalar_one()
        assert event.details["encrypted_sha256"] == exported["sha256"]
        assert event.details["package_sha256"] == exported["signed_sha256"]
        assert passphrase not in json.dumps(event.details)
    if shutil.which("7z") is None:
        return
    # The tool a recipient is most likely to use opens it with the passphrase.
    opened = subprocess.run(
        ["7z", "x", f"-p{passphrase}", f"-o{tmp_path / 'seven'}", str(out)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert opened.returncode == 0, opened.stdout + opened.stderr
    inner = (tmp_path / "seven" / f"{case['number']}.zip").read_bytes()
    assert hashlib.sha256(inner).hexdigest() == exported["signed_sha256"]


def test_fetched_media_carry_their_custody_into_the_package(
    app, client, runner, tmp_path, monkeypatch
):
    """Media fetched by URL (a local server, allow-listed as a test host): the package holds the
    fetched bytes, and case.json the URL, resolved address, response headers and time."""
    import http.server
    import socket
    import threading

    from tests.factories import make_platform, post_report, report_body, run_worker_burst

    fast_triage(app, tmp_path)
    image = make_image(45)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(image)))
            self.end_headers()
            self.wfile.write(image)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket, "getaddrinfo",
        lambda host, *a, **k: real("127.0.0.1" if host == "media.test" else host, *a, **k),
    )  # fmt: skip
    app.config["MEDIA_FETCH_ALLOW_HOSTS"] = f"media.test:{port}"
    body = report_body()
    body["content"]["media"] = [{"url": f"http://media.test:{port}/a.jpg"}]
    try:
        report_id = post_report(client, make_platform(app), body).get_json()["id"]
        run_worker_burst(app)
    finally:
        server.shutdown()
    opened = runner.invoke(args=["case", "open", str(report_id), "--type", "ncii", "--json"])
    case = json.loads(opened.output)
    out = tmp_path / "p.zip"
    _export(runner, case["id"], out)
    with zipfile.ZipFile(out) as archive:
        document = json.loads(archive.read(f"{case['number']}/data/case.json"))
        (medium,) = document["media"]
        assert archive.read(f"{case['number']}/{medium['file']}") == image
    assert medium["source_url"] == f"http://media.test:{port}/a.jpg"
    assert medium["custody"]["resolved_address"] == "127.0.0.1"
    assert medium["custody"]["headers"]["content-type"] == "image/jpeg"
    assert medium["custody"].get("fetched_at")
