"""Review UI latency on a large PostgreSQL database: the queue page and the item page, p50/p95.

    .venv/bin/python bench/ui.py --database postgresql+psycopg://postgres@127.0.0.1:5432/mq_bench \
        --reports 1000000 --requests 200

Fills the database (dropped and recreated) with synthetic reports by COPY: about 10% waiting for
review, the rest decided, spread over categories, languages, platforms and posting accounts, a
bank signal on 1% and one stored image per waiting report. Then signs a moderator in through the
real pages (password + TOTP) and times requests through the Flask test client (no network),
including the claim and audit writes an item view makes. `--load-only` / `--no-load` split the two.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from models import Base  # noqa: E402
from moderation import create_app  # noqa: E402
from moderation.core.db import make_engine  # noqa: E402
from moderation.core.dbadmin import sibling_database  # noqa: E402

CATEGORIES = ["ncii", "synthetic_sexual", "doxxing", "incitement", "sexual_harassment", "other"]
LANGUAGES = ["ko", "en", "und"]
QUEUE_SHARE = 0.10

# The review queries' indexes are declared on the models (models/report.py: Report and
# Signal); the load drops and recreates the schema from the models, so they are in place.
INDEXES: list[str] = []


def _image() -> bytes:
    from tests.factories import make_image

    return make_image(7, (640, 480))


def load(app, total: int, seed: int = 1) -> None:
    """Drop, recreate and fill the schema; COPY keeps a million rows to a minute or two."""
    from moderation.accounts.users import create_user
    from moderation.core.db import db
    from moderation.intake.platforms import create_platform
    from moderation.media.store import media_store_for
    from moderation.settings import settings_for
    from tests.factories import PASSWORD

    engine = make_engine(app.config["DATABASE_URL"])
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    engine.dispose()
    with app.app_context():
        create_platform(db.session, "acme", "standard", None)
        create_platform(db.session, "other", "standard", None)
        create_user(
            db.session, settings_for(app).accounts, "bench@example.org", "moderator", PASSWORD
        )
        key = media_store_for(app.config).put(_image())
    rng = random.Random(seed)
    now = datetime.now(UTC)
    raw = make_engine(app.config["DATABASE_URL"]).raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        columns = (
            "id, platform_id, category, reporter_kind, status, priority, priority_reasons, context,"
            " received_at, posted_by_id, posted_by_handle, language, content_text, comment,"
            " triage_attempts, channel_id"
        )
        open_ids = []
        with cursor.copy(f"COPY reports ({columns}) FROM STDIN") as copy:
            for report_id in range(1, total + 1):
                waiting = rng.random() < QUEUE_SHARE
                status = "queued" if waiting else "decided"
                if waiting:
                    open_ids.append(report_id)
                received = now - timedelta(minutes=rng.randint(1, 60 * 24 * 90))
                room = f"room-{rng.randint(1, 20000)}"
                copy.write_row(
                    (
                        report_id,
                        1 + (report_id % 2),
                        rng.choice(CATEGORIES),
                        "user",
                        status,
                        rng.randint(0, 100),
                        '[{"code": "category.ncii", "points": 35, "detail": "reported as NCII"}]',
                        f'{{"chat_id": "{room}"}}',
                        received,
                        f"acct-{rng.randint(1, 200000)}",
                        "someone",
                        rng.choice(LANGUAGES),
                        "synthetic reported text for the benchmark",
                        "reporter comment",
                        1,
                        room,
                    )
                )
        with cursor.copy(
            "COPY media (report_id, position, storage_key, sha256, mime, width, height, state,"
            " kind,"
            " custody, fetch_attempts, created_at) FROM STDIN"
        ) as copy:
            for report_id in open_ids:
                copy.write_row(
                    (
                        report_id,
                        0,
                        key,
                        key,
                        "image/jpeg",
                        640,
                        480,
                        "hashed",
                        "image",
                        "{}",
                        0,
                        now,
                    )
                )
        with cursor.copy(
            "COPY signals (report_id, kind, label, details, created_at) FROM STDIN"
        ) as copy:
            for report_id in open_ids:
                if rng.random() < 0.01:
                    copy.write_row((report_id, "bank", "confirmed", '{"distance": 0}', now))
        cursor.execute("SELECT setval(pg_get_serial_sequence('reports', 'id'), %s)", (total,))
        raw.commit()
        print(
            f"loaded {total} reports ({len(open_ids)} waiting)"
            f" in {time.perf_counter() - started:.1f} s"
        )
        for statement in INDEXES:
            cursor.execute(statement)
        raw.commit()
        # What autovacuum would do on a live system: the visibility map allows index-only counts.
        raw.driver_connection.autocommit = True
        cursor = raw.driver_connection.cursor()
        cursor.execute("VACUUM ANALYZE")
    finally:
        raw.close()


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    return statistics.median(ordered) * 1000, p95 * 1000


def measure(app, requests: int, seed: int = 2) -> None:
    from tests.factories import login

    client = app.test_client()
    response = login(client, "bench@example.org")
    where = response.headers.get("Location")
    assert response.status_code == 302, f"sign-in failed: {response.status_code} {where}"
    with app.app_context():
        from moderation.core.db import db

        open_ids = list(
            db.session.execute(
                text("SELECT id FROM reports WHERE status IN ('queued','in_review') LIMIT 5000")
            ).scalars()
        )
    rng = random.Random(seed)
    pages = {
        "queue (first page)": lambda: "/",
        "queue (filtered: category+language)": lambda: "/?category=ncii&language=ko",
        "queue (bank matches)": lambda: "/?bank=yes",
        "item page": lambda: f"/review/{rng.choice(open_ids)}",
    }
    for name, url in pages.items():
        for _ in range(5):  # warm caches
            client.get(url())
        samples = []
        for _ in range(requests):
            target = url()
            started = time.perf_counter()
            answer = client.get(target)
            samples.append(time.perf_counter() - started)
            assert answer.status_code == 200, (target, answer.status_code)
        p50, p95 = _percentiles(samples)
        print(f"{name:40s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   (n={requests})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a PostgreSQL URL (dropped and refilled)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument("--load-only", action="store_true")
    args = parser.parse_args()
    if args.database.startswith("postgresql") and not args.no_load:
        # Create the database if missing, through the maintenance database.
        base, _, name = args.database.rpartition("/")
        sibling_database(f"{base}/postgres", name)
    media_dir = Path(tempfile.gettempdir()) / "moderation-bench-media"
    app = create_app(
        {
            "DATABASE_URL": args.database,
            "REDIS_URL": args.redis,
            "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
            "MEDIA_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "MEDIA_DIR": str(media_dir),
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": "localhost",
            "PREFERRED_URL_SCHEME": "http",
            "WELLNESS_DAILY_REVEALS": 10**9,
        }
    )
    if not args.no_load:
        load(app, args.reports)
    if not args.load_only:
        print(f"database: {args.reports} reports; requests through the Flask test client")
        measure(app, args.requests)


if __name__ == "__main__":
    main()
