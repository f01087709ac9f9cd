"""Encrypting an evidence package for transport: the signed package ZIP is put, whole, inside
an AES-256 encrypted ZIP (WinZip AE-2, the format 7-Zip, WinZip and most archive tools open),
under a passphrase generated here and shown once, to be given to the recipient by another
channel (telephone).

Why a ZIP inside a ZIP: AES ZIP encrypts file contents, not file names, and the package's
names carry case numbers and hash prefixes; wrapped, the outside shows one name only.
Why a generated passphrase: the format derives its key with PBKDF2-SHA1 at 1,000 iterations, far
too few for a passphrase a person makes up; 30 random characters (~150 bits) make that moot.
"""

from __future__ import annotations

import io
import secrets
import zipfile

import pyzipper

# No 0/O, 1/l/I: read over the phone without mistakes.
_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
PASSPHRASE_GROUPS, GROUP_LENGTH = 6, 5


class TransportError(ValueError):
    """Not an encrypted package, or the passphrase is wrong."""


def new_passphrase() -> str:
    """Six groups of five random characters, e.g. "k7Qx2-..."; about 173 bits."""
    groups = (
        "".join(secrets.choice(_ALPHABET) for _ in range(GROUP_LENGTH))
        for _ in range(PASSPHRASE_GROUPS)
    )
    return "-".join(groups)


def encrypt(package: bytes, inner_name: str, passphrase: str) -> bytes:
    """`package` (the signed ZIP) as the only member `inner_name` of an AES-256 ZIP."""
    buffer = io.BytesIO()
    with pyzipper.AESZipFile(
        buffer, "w", compression=zipfile.ZIP_STORED, encryption=pyzipper.WZ_AES
    ) as archive:
        archive.setpassword(passphrase.encode())
        archive.setencryption(pyzipper.WZ_AES, nbits=256)
        archive.writestr(inner_name, package)
    return buffer.getvalue()


def is_encrypted(source: io.BytesIO | str) -> bool:
    """True for a transport-encrypted package (one encrypted member)."""
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        return False
    return len(members) == 1 and bool(members[0].flag_bits & 0x1)


def decrypt(source: io.BytesIO | str, passphrase: str) -> bytes:
    """The signed package inside; TransportError for a wrong passphrase or another file. In
    memory: the package holds originals and is never written out decrypted."""
    try:
        with pyzipper.AESZipFile(source) as archive:
            archive.setpassword(passphrase.strip().encode())
            (member,) = archive.infolist()
            return archive.read(member)
    except RuntimeError as exc:  # pyzipper's "Bad password"
        raise TransportError("the passphrase does not open this package") from exc
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise TransportError("not an encrypted evidence package") from exc
