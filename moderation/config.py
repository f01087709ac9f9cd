"""Configuration in layers: these defaults, the instance file, `MODERATION_*` environment, tests.

Development generates missing secrets once and keeps them in the instance folder so `make demo`
works on a laptop; production refuses to start without real ones.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from moderation.core.secret_strength import weak_key_reason, weak_text_reason


class ConfigurationError(RuntimeError):
    """The configuration cannot run safely (e.g. production without secrets)."""


DEFAULTS: dict[str, Any] = {
    "ENV": "development",
    "DATABASE_URL": None,  # default: SQLite file in the instance folder
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SECRET_KEY": None,
    "MEDIA_DIR": None,  # default: <instance>/media
    # Where originals are stored (docs/STORAGE.md): file:///absolute/path, or s3://bucket/prefix
    # with credentials from the usual AWS variables. Unset: the folder MEDIA_DIR. S3_ENDPOINT_URL
    # points at an S3-compatible service (MinIO, Ceph); unset, AWS.
    "MEDIA_STORAGE_URL": None,
    "S3_ENDPOINT_URL": None,
    "MEDIA_KEY": None,  # base64 of 32 bytes: the key-encryption key for media at rest
    # base64 of 32 random bytes: the Ed25519 private key that signs evidence packages. Rotate by
    # setting a new one and listing the old public key (`moderation evidence key`) here:
    "EVIDENCE_SIGNING_KEY": None,
    "EVIDENCE_RETIRED_PUBLIC_KEYS": (),  # PEM or base64 raw public keys, or one comma-separated
    # Source-Organization of evidence packages: who hands the evidence over.
    "ORGANIZATION_NAME": "Moderation queue",
    # Email (moderation/notifications): smtp://, smtp+starttls:// or smtps://user:password@host:port
    # (no URL: nothing is sent, messages wait in the outbox); the sender; seconds one SMTP
    # conversation step may take; a CA bundle for a relay with a private certificate.
    "SMTP_URL": None,
    "MAIL_FROM": "Moderation queue <noreply@localhost>",
    "SMTP_TIMEOUT": 30,
    "SMTP_CA_FILE": "",
    # Seconds between attempts at a refused message (then it is failed, on /dashboard/jobs), and
    # how long an attempt holds a message before another worker takes it as crashed.
    "MAIL_RETRY_SECONDS": "60,300,1800,7200",
    "MAIL_LEASE_SECONDS": 300,
    # Digests: a scheduled digest not sent this many hours after its time is skipped (its
    # contents roll into the next); defaults for people who set no preferences.
    "DIGEST_GRACE_HOURS": 3,
    "NOTIFY_DEFAULT_TIME_ZONE": "UTC",
    "NOTIFY_DEFAULT_LANGUAGE": "en",
    # An open police request due within this many hours alerts at once.
    "ALERT_POLICE_DUE_HOURS": 4,
    "CRON_DIGEST_INTERVAL_SECONDS": 60,
    "CRON_ALERT_INTERVAL_SECONDS": 30,
    "BASE_URL": "http://127.0.0.1:5000",
    # Reverse proxies in front of the web processes (nginx: 1); their X-Forwarded-* are trusted.
    "PROXY_COUNT": 0,
    # Intake limits
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    "MAX_MEDIA_PER_REPORT": 20,
    "MAX_MEDIA_BYTES": 50 * 1024 * 1024,
    "WEBHOOK_TOLERANCE_SECONDS": 300,
    # Image decoding limits (decompression bombs, animated files)
    "IMAGE_MAX_PIXELS": 50_000_000,
    "IMAGE_MAX_FRAMES": 200,
    # Media by URL (see moderation/fetching): hosts exempt from the address check, for testing.
    "MEDIA_FETCH_ALLOW_HOSTS": "",
    "MEDIA_FETCH_MAX_BYTES": 50 * 1024 * 1024,
    "MEDIA_FETCH_TIMEOUT": 30,
    "MEDIA_FETCH_MAX_ATTEMPTS": 3,
    # Rate limits (Flask-Limiter on Redis); see moderation/core/limits.py.
    "RATELIMIT_ENABLED": True,
    "RATE_LIMIT_PLATFORM": "600/minute",  # per platform slug, webhook routes together
    "RATE_LIMIT_UNAUTHENTICATED": "120/minute",  # per address, failed API authentications
    "RATE_LIMIT_STATUS": "1200/minute",  # per platform slug, status look-ups
    "RATE_LIMIT_PUBLIC_REPORT": "10/hour",  # per address, portal submissions
    "RATE_LIMIT_RECEIPT_CHECK_ADDRESS": "30/hour",  # per address, portal status checks
    "RATE_LIMIT_RECEIPT_CHECK": "10/hour",  # per receipt number, portal status checks
    "RATE_LIMIT_PROTECT_REGISTER": "10/hour",  # per address, /protect registrations
    "RATE_LIMIT_PROTECT_CASE_ADDRESS": "30/hour",  # per address, /protect case look-ups
    "RATE_LIMIT_PROTECT_CASE": "10/hour",  # per case number, wrong /protect PINs
    "RATE_LIMIT_PROTECT_ADD": "20/day",  # per case, /protect additions
    "PROTECT_MAX_IMAGES": 20,  # per /protect registration, over its life
    "PROTECT_BANK_NAME": "protect-registrations",  # the victim-submitted bank it fills
    # Public report portal (victims and support organisations).
    "PORTAL_PLATFORM_SLUG": "portal",
    "PORTAL_MAX_UPLOADS": 5,
    "PORTAL_MAX_UPLOAD_BYTES": 25 * 1024 * 1024,
    "PORTAL_MAX_LINKS": 10,
    # Where a reporter can get help, shown on the portal's status and receipt pages, per
    # language; set your own (a mapping {"en": [...], "ko": [...]}) for another country.
    "PORTAL_HELP": {
        "ko": [
            {
                "name": "디지털성범죄피해자지원센터",
                "phone": "02-735-8994",
                "url": "https://d4u.stop.or.kr",
            },
            {"name": "여성긴급전화 1366", "phone": "1366", "url": ""},
        ],
        "en": [
            {
                "name": "Digital Sex Crime Victim Support Center (Korea)",
                "phone": "02-735-8994",
                "url": "https://d4u.stop.or.kr",
            },
            {"name": "Women's emergency hotline (Korea, 24 hours)", "phone": "1366", "url": ""},
        ],
    },
    # Mastodon: keep the reporter's email and IP history (encrypted) only if the operator opts in.
    "MASTODON_KEEP_REPORTER_PII": False,
    # Outbox: reports still pending this long are re-enqueued by the sweeper.
    "SWEEP_PENDING_AFTER_SECONDS": 120,
    "TRIAGE_STALE_AFTER_SECONDS": 900,
    # A report triaging with no worker heartbeat for this long lost its worker (it beats every
    # 10 s): the sweeper gives it back at once instead of after TRIAGE_STALE_AFTER_SECONDS.
    "TRIAGE_DEAD_AFTER_SECONDS": 45,
    # Triage attempts (claims) after which a report's pending media are failed, not retried.
    "TRIAGE_MAX_ATTEMPTS": 3,
    "CRON_SWEEP_INTERVAL_SECONDS": 30,
    # Audit events are sealed into the hash chain by this periodic job (seconds between runs).
    "CRON_AUDIT_SEAL_INTERVAL_SECONDS": 5,
    # Priority weights: see moderation/triage/policy.py for what each means.
    "PRIORITY_WEIGHTS": {},
    # Triage (moderation/triage/pipeline.py). Classifier: a model name from the ONNX registry
    # ("" turns classification off); extra manifest folders, os.pathsep-separated.
    "CLASSIFIER_MODEL": "nudenet-320n",
    "CLASSIFIER_MANIFEST_DIRS": "",
    # Operator model folders (os.pathsep-separated, searched after the built-in manifests) and
    # ONNX threads per session; MODERATION_MODELS_DIR / MODERATION_ONNX_THREADS as before.
    "MODELS_DIR": "",
    "ONNX_THREADS": 1,
    "VIDEO_MAX_BYTES": 200 * 1024 * 1024,
    "VIDEO_MAX_SECONDS": 1800,
    "VIDEO_DEADLINE_SECONDS": 120,
    "VIDEO_CLASSIFIER_FRAMES": 8,
    # Clusters: the media-to-media PDQ index (default <instance>/media-pdq-index/<db key>).
    "MEDIA_INDEX_DIR": None,
    "CLUSTER_PDQ_DISTANCE": 31,
    "MEDIA_MATCH_MIN_QUALITY": 50,
    "VIDEO_MATCH_MIN_SHARE": 0.7,
    # Hash banks' PDQ index (see moderation/banks/index.py).
    "BANK_INDEX_DIR": None,  # default: <instance>/pdq-index
    "BANK_INDEX_REFRESH_SECONDS": 30,
    "BANK_INDEX_COMPACT_AT": 50_000,
    "BANK_INDEX_REBUILD_SECONDS": 6 * 3600,
    "CRON_BANK_INDEX_INTERVAL_SECONDS": 300,
    # Re-score waiting reports as they age against their SLA (moderation/triage/aging.py).
    "CRON_RESCORE_INTERVAL_SECONDS": 300,
    # Review (see moderation/review/queue.py, decisions.py, wellness.py).
    # SLA target per category in hours; "default" covers categories not listed.
    "SLA_HOURS": {
        "csam_suspected": 4,
        "ncii": 24,
        "synthetic_sexual": 24,
        "doxxing": 24,
        "incitement": 24,
        "sexual_harassment": 48,
        "default": 72,
    },
    "CLAIM_MINUTES": 5,
    "UNDO_SECONDS": 10,
    "REVEAL_MINUTES": 10,
    "WELLNESS_DAILY_REVEALS": 60,
    "WELLNESS_DAILY_EXPOSURE_MINUTES": 90,
    "WELLNESS_BREAK_MINUTES": 15,
    "CRON_FINALIZE_INTERVAL_SECONDS": 10,
    # Decision callbacks (moderation/outcomes/callbacks.py): how often due deliveries are put on
    # the `callbacks` queue, the time one attempt may take, and `host[:port]` entries exempt from
    # the private-address check (local testing only, like MEDIA_FETCH_ALLOW_HOSTS).
    "CRON_CALLBACK_INTERVAL_SECONDS": 5,
    "CALLBACK_TIMEOUT": 15,
    "CALLBACK_ALLOW_HOSTS": "",
    "CALLBACK_RETRY_SECONDS": "",
    "CALLBACK_LEASE_SECONDS": 120,  # a worker that dies mid-attempt frees its delivery after this
    # Decide exact re-shares (same bytes) of confirmed content as the original was decided, by
    # the system, undoable for this long (moderation/outcomes/auto_decide.py). Off by default.
    "AUTO_DECIDE_RESHARES": False,
    "AUTO_DECIDE_UNDO_MINUTES": 60,  # empty: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h
    # Cases (moderation/cases): the first referral to police is due this long after opening.
    "CASE_REFERRAL_HOURS": 24,
    # Days originals are kept after the decision became final, per outcome; unheld media past
    # it is crypto-shredded by `moderation retention run`. Outcomes not listed are kept.
    "RETENTION_DAYS": {"no_violation": 30, "removed": 180, "escalated": 730},
    "CRON_RETENTION_INTERVAL_SECONDS": 3600,
    # Sessions
    "SESSION_IDLE_MINUTES": 480,
    # Absolute lifetime: a session ends this long after sign-in however busy it is, so a copied
    # cookie that is kept in use does not live for ever.
    "SESSION_MAX_DAYS": 14,
    # Sign-in throttling (Flask-Limiter syntax): per client address, and per account.
    "LOGIN_LIMIT_PER_ADDRESS": "5 per minute",
    "LOGIN_LIMIT_PER_ACCOUNT": "10 per hour",
    # A browser that signed in (or filed a portal report) keeps a device cookie this long; the
    # per-account and per-receipt limits give it a budget of its own (see core/device_cookies).
    "DEVICE_COOKIE_DAYS": 90,
    "INVITE_TTL_HOURS": 72,
    "TOTP_ISSUER": "Moderation queue",
    # Roles that may know suspected-CSAM reports exist (see moderation/accounts/permissions.py).
    "CSAM_ROLES": ("senior", "admin"),
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Strict",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "WTF_CSRF_TIME_LIMIT": None,
    "PREFERRED_URL_SCHEME": "https",
}

# Keys generated for development and kept in <instance>/dev-secrets.json.
_GENERATED_SECRETS = ("SECRET_KEY", "MEDIA_KEY", "EVIDENCE_SIGNING_KEY")


def _generate(name: str) -> str:
    if name in ("MEDIA_KEY", "EVIDENCE_SIGNING_KEY"):
        return base64.b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(48)


def _dev_secrets(instance_path: Path) -> dict[str, str]:
    """Load or create development secrets; created once so media stays decryptable."""
    path = instance_path / "dev-secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    missing = [k for k in _GENERATED_SECRETS if k not in stored]
    if missing:
        for key in missing:
            stored[key] = _generate(key)
        instance_path.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle)
        os.replace(tmp, path)
    return stored


def decode_media_key(value: str) -> bytes:
    """The media key-encryption key as 32 raw bytes; raises ConfigurationError otherwise."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError("MEDIA_KEY must be base64 of 32 random bytes") from exc
    if len(raw) != 32:
        raise ConfigurationError("MEDIA_KEY must be base64 of exactly 32 bytes")
    return raw


def decode_signing_key(value: str) -> bytes:
    """The evidence signing key (an Ed25519 private key) as 32 raw bytes; raises
    ConfigurationError otherwise."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError("EVIDENCE_SIGNING_KEY must be base64 of 32 random bytes") from exc
    if len(raw) != 32:
        raise ConfigurationError("EVIDENCE_SIGNING_KEY must be base64 of exactly 32 bytes")
    return raw


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill `app.config` from every layer and check it; raises ConfigurationError."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env(prefix="MODERATION")
    if test_config:
        app.config.from_mapping(test_config)

    instance = Path(app.instance_path)
    env = app.config["ENV"]
    if env not in ("development", "production"):
        raise ConfigurationError("MODERATION_ENV must be 'development' or 'production'")

    if env == "production":
        for key in ("SECRET_KEY", "MEDIA_KEY"):
            if not app.config.get(key):
                raise ConfigurationError(f"production needs MODERATION_{key}")
        weak = weak_text_reason(str(app.config["SECRET_KEY"]), 32)
        if weak:
            raise ConfigurationError(f"MODERATION_SECRET_KEY {weak}")
        weak = weak_key_reason(decode_media_key(app.config["MEDIA_KEY"]))
        if weak:
            raise ConfigurationError(f"MODERATION_MEDIA_KEY {weak}")
        # Checked after the other two, so their refusals read as they always have.
        if not app.config.get("EVIDENCE_SIGNING_KEY"):
            raise ConfigurationError("production needs MODERATION_EVIDENCE_SIGNING_KEY")
        weak = weak_key_reason(decode_signing_key(app.config["EVIDENCE_SIGNING_KEY"]))
        if weak:
            raise ConfigurationError(f"MODERATION_EVIDENCE_SIGNING_KEY {weak}")
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    else:
        missing = [k for k in _GENERATED_SECRETS if not app.config.get(k)]
        if missing:
            generated = _dev_secrets(instance)
            for key in missing:
                app.config[key] = generated[key]

    decode_media_key(app.config["MEDIA_KEY"])
    decode_signing_key(app.config["EVIDENCE_SIGNING_KEY"])
    if not app.config["DATABASE_URL"]:
        instance.mkdir(parents=True, exist_ok=True)
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'moderation.sqlite3'}"
    _check_media_storage(app.config, instance)
    _check_redis_url(app.config)
    if not app.config["BANK_INDEX_DIR"]:
        app.config["BANK_INDEX_DIR"] = str(instance / "pdq-index")


def _check_redis_url(config: Any) -> None:
    """A malformed Sentinel URL stops startup with one sentence (never the URL: it may hold a
    password); a plain URL is left to redis-py, which says what is wrong on first use."""
    from moderation.core.redis_urls import parse_sentinel_url

    try:
        parse_sentinel_url(str(config["REDIS_URL"]))
    except ValueError as exc:
        raise ConfigurationError(f"MODERATION_REDIS_URL: {exc}") from None


def _check_media_storage(config: Any, instance: Path) -> None:
    """Validate MEDIA_STORAGE_URL (ConfigurationError for a bad one) and keep MEDIA_DIR naming
    the folder of a file:// store, so both settings agree on where the media is."""
    from moderation.media.locations import check_backend_available, parse_storage_url

    url = config.get("MEDIA_STORAGE_URL")
    if not url:
        if not config["MEDIA_DIR"]:
            config["MEDIA_DIR"] = str(instance / "media")
        return
    try:
        location = parse_storage_url(url)
        check_backend_available(location)
    except ValueError as exc:
        raise ConfigurationError(f"MODERATION_MEDIA_STORAGE_URL: {exc}") from None
    if location.scheme == "file":
        folder = Path(location.path).resolve()
        if config["MEDIA_DIR"] and Path(config["MEDIA_DIR"]).resolve() != folder:
            raise ConfigurationError(
                "MODERATION_MEDIA_STORAGE_URL and MODERATION_MEDIA_DIR name different folders;"
                " set only MODERATION_MEDIA_STORAGE_URL"
            )
        config["MEDIA_DIR"] = location.path
    elif not config["MEDIA_DIR"]:
        # Nothing is stored there with an s3:// store; set so code that reads it still works.
        config["MEDIA_DIR"] = str(instance / "media")
