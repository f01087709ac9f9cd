"""Media type from magic bytes, never from a server's Content-Type or a file name.

Only the types the triage pipeline can decode are named; anything else is
``application/octet-stream`` and the caller decides what to do with it.
"""

from __future__ import annotations

OCTET_STREAM = "application/octet-stream"

# ISO base media file format ("ftyp") brands, checked major brand first, then compatible ones.
_FTYP_BRANDS: dict[bytes, str] = {
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"hevc": "image/heic-sequence",
    b"hevx": "image/heic-sequence",
    b"mif1": "image/heif",
    b"msf1": "image/heif-sequence",
    b"qt  ": "video/quicktime",
    b"isom": "video/mp4",
    b"iso2": "video/mp4",
    b"iso3": "video/mp4",
    b"iso4": "video/mp4",
    b"iso5": "video/mp4",
    b"iso6": "video/mp4",
    b"mp41": "video/mp4",
    b"mp42": "video/mp4",
    b"avc1": "video/mp4",
    b"dash": "video/mp4",
    b"mmp4": "video/mp4",
    b"M4V ": "video/mp4",
    b"M4VH": "video/mp4",
    b"M4VP": "video/mp4",
    b"f4v ": "video/mp4",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
    b"3gp6": "video/3gpp",
    b"3gg6": "video/3gpp",
    b"3g2a": "video/3gpp2",
}

# When only compatible brands are known, the more specific image brands win over "isom".
_COMPATIBLE_PRECEDENCE = (
    "image/avif",
    "image/heic",
    "image/heic-sequence",
    "image/heif",
    "image/heif-sequence",
    "video/quicktime",
    "video/3gpp",
    "video/3gpp2",
    "video/mp4",
)

# QuickTime files from before the ftyp box start directly with one of these atoms.
_LEGACY_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"pnot"})

# Sizes of the BMP info headers (core, v3, v4, v5 and the OS/2 variants).
_BMP_DIB_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})


def _sniff_ftyp(head: bytes) -> str | None:
    box_size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    if major in _FTYP_BRANDS:
        return _FTYP_BRANDS[major]
    # Compatible brands follow the minor version, up to the end of the ftyp box.
    end = min(box_size if box_size >= 16 else len(head), len(head))
    found = {
        _FTYP_BRANDS[head[i : i + 4]]
        for i in range(16, end - 3, 4)
        if head[i : i + 4] in _FTYP_BRANDS
    }
    for media_type in _COMPATIBLE_PRECEDENCE:
        if media_type in found:
            return media_type
    return None


def _sniff_ebml(head: bytes) -> str:
    # The DocType element (0x4282) names the flavour; it sits in the first few dozen bytes.
    doc_type_at = head.find(b"\x42\x82", 4, 64)
    if doc_type_at != -1 and b"webm" in head[doc_type_at : doc_type_at + 12]:
        return "video/webm"
    return "video/x-matroska"


def _is_bmp(head: bytes) -> bool:
    # "BM" alone is too common a prefix; also require a known info-header size.
    return (
        head[:2] == b"BM"
        and len(head) >= 18
        and int.from_bytes(head[14:18], "little") in _BMP_DIB_HEADER_SIZES
    )


def sniff_type(content: bytes) -> str:
    """Return the MIME type that the leading bytes of ``content`` identify.

    Recognised: JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF, HEIC/HEIF, MP4, QuickTime, 3GPP, WebM and
    Matroska; anything else is ``application/octet-stream``. Looks at the first 256 bytes only.
    """
    head = content[:256]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if _is_bmp(head):
        return "image/bmp"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _sniff_ebml(head)
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _sniff_ftyp(head) or OCTET_STREAM
    if len(head) >= 8 and head[4:8] in _LEGACY_QUICKTIME_ATOMS:
        return "video/quicktime"
    return OCTET_STREAM
