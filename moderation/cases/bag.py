"""BagIt bags (RFC 8493) made and checked in memory, and the signed ZIP around one.

Why not `bagit.make_bag`: the library bags a directory on disk, and these bags hold decrypted
originals, which must never be written to disk in plaintext. The format is small (a declaration,
payload manifests, bag-info, tag manifests) and the tests check every bag we make with the
`bagit` library itself, as a recipient's `bagit.py --validate` would. An already extracted bag
(a directory) is checked with the library (`verify_directory`).

ZIP layout:
    <number>/                        the bag: bagit.txt, bag-info.txt, manifest-sha256.txt,
                                     manifest-sha512.txt, tagmanifest-sha256.txt,
                                     tagmanifest-sha512.txt, data/...
    <number>.tagmanifest-sha256.txt.sig   raw 64-byte Ed25519 signature of the bag's
                                     tagmanifest-sha256.txt
    <number>.public-key.pem          the instance's public key (SubjectPublicKeyInfo PEM)
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from moderation.cases.signing import (
    EvidenceSigner,
    fingerprint,
    load_public_key,
    verify_signature,
)

ALGORITHMS = ("sha256", "sha512")
BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
SIGNATURE_SUFFIX = ".tagmanifest-sha256.txt.sig"
PUBLIC_KEY_SUFFIX = ".public-key.pem"
# Names we write: plain ASCII, so no manifest needs percent-encoding and every tool agrees.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
_CHUNK = 1 << 20


def _digests(data: bytes) -> dict[str, str]:
    return {name: hashlib.new(name, data).hexdigest() for name in ALGORITHMS}


def _manifest(entries: Mapping[str, Mapping[str, str]], algorithm: str) -> bytes:
    return "".join(f"{digests[algorithm]}  {path}\n" for path, digests in entries.items()).encode()


def _bag_info(fields: Iterable[tuple[str, str]]) -> bytes:
    lines = []
    for label, value in fields:
        # A value on one line: bag-info continuation lines are legal but rarely parsed right.
        lines.append(f"{label}: {' '.join(str(value).split())}\n")
    return "".join(lines).encode()


def build_bag(
    payload: Iterable[tuple[str, bytes]], info: Iterable[tuple[str, str]], bagging_date: datetime
) -> dict[str, bytes]:
    """The files of a bag ({path inside the bag: bytes}) for `payload` ([(path under data/,
    bytes)]) and bag-info `info` fields; Payload-Oxum and Bagging-Date are added here. Raises
    ValueError for an unsafe or duplicate name."""
    files: dict[str, bytes] = {}
    payload_digests: dict[str, dict[str, str]] = {}
    octets = 0
    for name, data in payload:
        path = f"data/{name}"
        if not _SAFE_NAME.match(name) or ".." in PurePosixPath(name).parts or path in files:
            raise ValueError(f"unsafe or duplicate payload name: {name}")
        files[path] = data
        payload_digests[path] = _digests(data)
        octets += len(data)
    files["bagit.txt"] = BAGIT_TXT
    fields = [
        *info,
        ("Bagging-Date", bagging_date.date().isoformat()),
        ("Payload-Oxum", f"{octets}.{len(payload_digests)}"),
    ]
    files["bag-info.txt"] = _bag_info(fields)
    for algorithm in ALGORITHMS:
        files[f"manifest-{algorithm}.txt"] = _manifest(payload_digests, algorithm)
    tag_names = ["bagit.txt", "bag-info.txt", *(f"manifest-{a}.txt" for a in ALGORITHMS)]
    tag_digests = {name: _digests(files[name]) for name in tag_names}
    for algorithm in ALGORITHMS:
        files[f"tagmanifest-{algorithm}.txt"] = _manifest(tag_digests, algorithm)
    return files


def package_zip(
    root: str, bag: Mapping[str, bytes], signer: EvidenceSigner, when: datetime
) -> bytes:
    """The ZIP of `bag` under folder `root`, with the detached signature and public key beside
    it; built in memory. Media is stored as is (already compressed), text deflated."""
    signature = signer.sign(bag["tagmanifest-sha256.txt"])
    members = [(f"{root}/{path}", data) for path, data in sorted(bag.items())]
    members.append((f"{root}{SIGNATURE_SUFFIX}", signature))
    members.append((f"{root}{PUBLIC_KEY_SUFFIX}", _pem(signer)))
    buffer = io.BytesIO()
    stamp = when.timetuple()[:6]
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = 0o644 << 16
            textual = name.endswith((".txt", ".json", ".html", ".pem"))
            info.compress_type = zipfile.ZIP_DEFLATED if textual else zipfile.ZIP_STORED
            archive.writestr(info, data)
    return buffer.getvalue()


def _pem(signer: EvidenceSigner) -> bytes:
    from moderation.cases.signing import public_key_pem

    return public_key_pem(signer.public_key)


@dataclass
class Verdict:
    """What `verify_*` found: `problems` lists (file, what is wrong), empty when intact."""

    ok: bool = True
    number: str | None = None
    fingerprint: str | None = None
    key: str | None = None  # "current", "retired" or None (not a key of this instance)
    files: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)

    def problem(self, path: str, what: str) -> None:
        self.ok = False
        self.problems.append((path, what))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "number": self.number,
            "key_fingerprint": self.fingerprint,
            "key": self.key,
            "files": self.files,
            "problems": [{"file": path, "problem": what} for path, what in self.problems],
        }


def _parse_manifest(text: bytes) -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in text.decode("utf-8", errors="replace").splitlines():
        if line.strip():
            digest, _, path = line.strip().partition(" ")
            entries[path.strip()] = digest.lower()
    return entries


def _hash_member(archive: zipfile.ZipFile, name: str) -> dict[str, str]:
    hashers = {algorithm: hashlib.new(algorithm) for algorithm in ALGORITHMS}
    with archive.open(name) as handle:
        while chunk := handle.read(_CHUNK):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {algorithm: hasher.hexdigest() for algorithm, hasher in hashers.items()}


def verify_zip(source: Path | io.BytesIO, known: Mapping[str, str] | None = None) -> Verdict:
    """Check a package in memory, never extracting it: every manifest and tag-manifest entry
    against the bytes (SHA-256 and SHA-512), no file missing or unlisted, Payload-Oxum, and the
    signature over tagmanifest-sha256.txt with the public key beside the bag. `known` maps the
    fingerprints of this instance's keys to "current"/"retired"."""
    verdict = Verdict()
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError):
        verdict.problem(str(getattr(source, "name", "package")), "not a readable ZIP file")
        return verdict
    with archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        roots = sorted({name.split("/", 1)[0] for name in names if "/" in name})
        if len(roots) != 1 or any(n.startswith("/") or ".." in n.split("/") for n in names):
            verdict.problem("package", "expected exactly one bag folder and nothing outside it")
            return verdict
        root = roots[0]
        verdict.number = root
        inside = {name[len(root) + 1 :]: name for name in names if name.startswith(root + "/")}
        beside = set(names) - set(inside.values())
        expected_beside = {root + SIGNATURE_SUFFIX, root + PUBLIC_KEY_SUFFIX}
        for extra in sorted(beside - expected_beside):
            verdict.problem(extra, "a file the package does not list")
        _check_bag(archive, inside, verdict)
        _check_signature(archive, root, inside, known, verdict)
    return verdict


def _check_bag(archive: zipfile.ZipFile, inside: dict[str, str], verdict: Verdict) -> None:
    required = ["bagit.txt", "bag-info.txt", "tagmanifest-sha256.txt"]
    required += [f"manifest-{a}.txt" for a in ALGORITHMS]
    for name in required:
        if name not in inside:
            verdict.problem(name, "missing")
    if not verdict.ok:
        return
    listed: dict[str, dict[str, str]] = {}
    for kind in ("manifest", "tagmanifest"):
        for algorithm in ALGORITHMS:
            manifest = f"{kind}-{algorithm}.txt"
            if manifest not in inside:
                continue
            for path, digest in _parse_manifest(archive.read(inside[manifest])).items():
                listed.setdefault(path, {})[algorithm] = digest
    for path in sorted(inside):
        is_payload = path.startswith("data/")
        if path not in listed and (is_payload or not path.startswith("tagmanifest-")):
            verdict.problem(path, "a file no manifest lists")
    octets = count = 0
    for path, digests in sorted(listed.items()):
        if path not in inside:
            verdict.problem(path, "listed in a manifest but missing")
            continue
        actual = _hash_member(archive, inside[path])
        verdict.files += 1
        if path.startswith("data/"):
            octets += archive.getinfo(inside[path]).file_size
            count += 1
        for algorithm, digest in digests.items():
            if actual[algorithm] != digest:
                verdict.problem(path, f"{algorithm.upper()} does not match the manifest")
                break
    oxum = re.search(rb"^Payload-Oxum:\s*(\d+)\.(\d+)", archive.read(inside["bag-info.txt"]), re.M)
    if oxum is None or (int(oxum.group(1)), int(oxum.group(2))) != (octets, count):
        verdict.problem("bag-info.txt", "Payload-Oxum does not match the payload")


def _check_signature(
    archive: zipfile.ZipFile,
    root: str,
    inside: dict[str, str],
    known: Mapping[str, str] | None,
    verdict: Verdict,
) -> None:
    signature_name, key_name = root + SIGNATURE_SUFFIX, root + PUBLIC_KEY_SUFFIX
    present = set(archive.namelist())
    for name in (signature_name, key_name):
        if name not in present:
            verdict.problem(name, "missing")
    if (
        signature_name not in present
        or key_name not in present
        or "tagmanifest-sha256.txt" not in inside
    ):
        return
    try:
        public_key = load_public_key(archive.read(key_name))
    except ValueError:
        verdict.problem(key_name, "not an Ed25519 public key")
        return
    verdict.fingerprint = fingerprint(public_key)
    verdict.key = (known or {}).get(verdict.fingerprint)
    signed = archive.read(inside["tagmanifest-sha256.txt"])
    if not verify_signature(public_key, archive.read(signature_name), signed):
        verdict.problem(signature_name, "the signature does not match tagmanifest-sha256.txt")


_LIBRARY_PROBLEMS = {
    "ChecksumMismatch": "does not match the manifest",
    "FileMissing": "listed in a manifest but missing",
    "UnexpectedFile": "a file no manifest lists",
}


def verify_directory(path: Path, known: Mapping[str, str] | None = None) -> Verdict:
    """Check an extracted package (the folder holding the bag folder, the signature and the key)
    or a bag folder with the signature and key beside it, using the `bagit` library."""
    import bagit

    verdict = Verdict()
    bag_dirs = (
        [p for p in sorted(path.iterdir()) if (p / "bagit.txt").is_file()]
        if (path.is_dir() and not (path / "bagit.txt").is_file())
        else [path]
    )
    if len(bag_dirs) != 1:
        verdict.problem(str(path), "expected exactly one bag folder")
        return verdict
    bag_dir = bag_dirs[0]
    verdict.number = bag_dir.name
    # The library logs each failure (and its progress) itself; the verdict says it once.
    library_log = logging.getLogger("bagit")
    level = library_log.level
    library_log.setLevel(logging.CRITICAL)
    try:
        bag = bagit.Bag(str(bag_dir))
        bag.validate()
        verdict.files = len(bag.entries)
    except bagit.BagValidationError as exc:
        for detail in exc.details or []:
            path = str(getattr(detail, "path", bag_dir.name))
            what = _LIBRARY_PROBLEMS.get(type(detail).__name__, str(detail))
            if (path, what) not in verdict.problems:
                verdict.problem(path, what)
        if not exc.details:
            verdict.problem(bag_dir.name, str(exc))
    except bagit.BagError as exc:
        verdict.problem(bag_dir.name, str(exc))
    finally:
        library_log.setLevel(level)
    signature = bag_dir.parent / (bag_dir.name + SIGNATURE_SUFFIX)
    key_file = bag_dir.parent / (bag_dir.name + PUBLIC_KEY_SUFFIX)
    for needed in (signature, key_file):
        if not needed.is_file():
            verdict.problem(needed.name, "missing")
    if not signature.is_file() or not key_file.is_file():
        return verdict
    try:
        public_key = load_public_key(key_file.read_bytes())
    except ValueError:
        verdict.problem(key_file.name, "not an Ed25519 public key")
        return verdict
    verdict.fingerprint = fingerprint(public_key)
    verdict.key = (known or {}).get(verdict.fingerprint)
    signed = (bag_dir / "tagmanifest-sha256.txt").read_bytes()
    if not verify_signature(public_key, signature.read_bytes(), signed):
        verdict.problem(signature.name, "the signature does not match tagmanifest-sha256.txt")
    return verdict
