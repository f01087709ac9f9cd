"""The instance's evidence signing key (Ed25519): signing packages, and knowing which public
keys are ours, the current one and any retired by a rotation, so an old package still verifies
as this instance's.

The private key is config `EVIDENCE_SIGNING_KEY` (base64 of 32 random bytes; production refuses
to start without it, development generates one into the instance folder like MEDIA_KEY). To
rotate: `moderation evidence key` shows the current public key; list it in
`EVIDENCE_RETIRED_PUBLIC_KEYS` and set a new `EVIDENCE_SIGNING_KEY` (`moderation evidence
new-key` prints one). Each export's audit event names the fingerprint it was signed with.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from moderation.config import decode_signing_key


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo, hex in groups of four: what
    `openssl pkey -pubin -in public-key.pem -outform DER | sha256sum` prints, ungrouped."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(der).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM or from base64 of its 32 raw bytes; ValueError otherwise."""
    data = text.encode() if isinstance(text, str) else text
    if b"-----BEGIN" in data:
        key = serialization.load_pem_public_key(data)
    else:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(data.strip(), validate=True))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def verify_signature(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _retired(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        # One PEM, or base64 keys separated by commas (an environment variable).
        return [value] if "-----BEGIN" in value else [v for v in value.split(",") if v.strip()]
    return [str(item) for item in value]


@dataclass(frozen=True)
class EvidenceSigner:
    private_key: Ed25519PrivateKey
    retired: tuple[Ed25519PublicKey, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EvidenceSigner:
        """Raises ConfigurationError for a malformed key, ValueError for a bad retired key."""
        seed = decode_signing_key(config["EVIDENCE_SIGNING_KEY"])
        retired = tuple(
            load_public_key(v) for v in _retired(config["EVIDENCE_RETIRED_PUBLIC_KEYS"])
        )
        return cls(Ed25519PrivateKey.from_private_bytes(seed), retired)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def sign(self, data: bytes) -> bytes:
        """The 64-byte raw Ed25519 signature (what `openssl pkeyutl -verify -rawin` reads)."""
        return self.private_key.sign(data)

    def known_fingerprints(self) -> dict[str, str]:
        """Fingerprint -> "current" or "retired", for every key this instance signs or signed
        with."""
        known = {fingerprint(key): "retired" for key in self.retired}
        known[self.fingerprint] = "current"
        return known


def new_signing_key() -> str:
    """A fresh EVIDENCE_SIGNING_KEY value."""
    raw = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode()
