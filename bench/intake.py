"""Benchmark of signed report intake against a bare Flask endpoint served the same way.

    .venv/bin/python bench/intake.py --seconds 15 --workers 4 --clients 8

Both apps run under gunicorn (same worker class and count) on 127.0.0.1; a load generator in
another process posts for a bounded time and request count and prints requests per second and
p50/p99 latency for each, plus the ratio. Intake uses PostgreSQL (a database `<name>_bench` next
to --database-url, recreated each run) and a private redis-server on a free port, so nothing the
tests or a developer use is touched. Each intake request is a fresh Standard Webhooks delivery
(unique webhook-id, signed at send time) with a text-only report, or with one inline JPEG of
about 20 KB with --with-image. The goal: at least half the bare throughput, p99 under 50 ms.

Two more baselines say where the gap comes from: `bare_db` is the bare endpoint plus one durable
INSERT and COMMIT on a plain psycopg connection; `bare_libs` is the bare endpoint plus the
signature check, the Flask-Limiter limit on Redis and the RQ enqueue, with no database. From the
three, `libs_plus_one_insert_ceiling_ratio` estimates the best ratio any intake that does both
could reach on this machine (see `_ceiling_ratio`).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from moderation.core.localservices import free_port, start_redis_server, wait_for_port  # noqa: E402


def bare_app():  # type: ignore[no-untyped-def]
    """The baseline: a Flask app that reads the body, parses JSON and answers 202."""
    from flask import Flask, jsonify, request

    app = Flask("bare")

    @app.post("/api/v1/platforms/<slug>/reports")
    def receive(slug: str):  # type: ignore[no-untyped-def]
        json.loads(request.get_data())
        return jsonify({"id": 1, "status": "received"}), 202

    return app


def bare_db_app():  # type: ignore[no-untyped-def]
    """A second baseline: the bare endpoint plus one durable INSERT and COMMIT per request (what
    any intake that acknowledges only stored reports must pay), on a plain psycopg connection."""
    import psycopg
    from flask import Flask, jsonify, request

    app = Flask("bare_db")
    url = os.environ["BENCH_BARE_DB_URL"]
    connection = psycopg.connect(url, autocommit=False)

    @app.post("/api/v1/platforms/<slug>/reports")
    def receive(slug: str):  # type: ignore[no-untyped-def]
        raw = request.get_data()
        json.loads(raw)
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO bare_reports (body) VALUES (%s) RETURNING id", (raw,))
            report_id = cursor.fetchone()[0]
        connection.commit()
        return jsonify({"id": report_id, "status": "received"}), 202

    return app


def bare_libs_app():  # type: ignore[no-untyped-def]
    """A third baseline: the bare endpoint plus what the issue and the design name besides
    storage, with no database: the Standard Webhooks signature check, a Flask-Limiter limit per
    platform on Redis (the same strategy as intake) and the RQ enqueue of a triage job. What is
    left between it and intake is the cost of storing the report durably."""
    import itertools

    from flask import Flask, jsonify, request
    from flask_limiter import Limiter
    from redis import Redis

    from moderation.core.queueing import enqueue_triage
    from moderation.intake.signatures import verify_standard

    app = Flask("bare_libs")
    redis_url, secret = os.environ["BENCH_REDIS_URL"], os.environ["BENCH_SECRET"]
    limiter = Limiter(
        key_func=lambda: "platform:" + (request.view_args or {}).get("slug", ""),
        app=app,
        storage_uri=redis_url,
        strategy="moving-window",
    )
    redis = Redis.from_url(redis_url)
    ids = itertools.count(os.getpid() * 10_000_000)  # unique job ids across the gunicorn workers

    @app.post("/api/v1/platforms/<slug>/reports")
    @limiter.limit("100000000/minute")
    def receive(slug: str):  # type: ignore[no-untyped-def]
        raw = request.get_data()
        verify_standard(
            [secret],
            request.headers.get("webhook-id"),
            request.headers.get("webhook-timestamp"),
            request.headers.get("webhook-signature"),
            raw,
        )
        json.loads(raw)
        report_id = next(ids)
        enqueue_triage(redis, report_id)
        return jsonify({"id": report_id, "status": "received"}), 202

    return app


def _prepare_bare_db(database_url: str) -> str:
    import psycopg

    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS bare_reports")
        connection.execute("CREATE TABLE bare_reports (id bigserial PRIMARY KEY, body bytea)")
    return url


def _bench_database(url: str) -> str:
    from moderation.core.dbadmin import sibling_database

    # Through the maintenance database, so neither the named database nor the bench one need exist.
    base, _, name = url.rpartition("/")
    return sibling_database(f"{base}/postgres", f"{name}_bench")


def _prepare_intake(
    database_url: str, redis_url: str, media_dir: str
) -> tuple[str, dict[str, str]]:
    """Fresh schema and a platform; returns its secret and the environment for gunicorn."""
    from models import Base
    from moderation import create_app
    from moderation.core.db import db, make_engine
    from moderation.intake.platforms import create_platform

    engine = make_engine(database_url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    engine.dispose()
    env = {
        "MODERATION_ENV": "production",
        "MODERATION_DATABASE_URL": database_url,
        "MODERATION_REDIS_URL": redis_url,
        "MODERATION_SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "MODERATION_MEDIA_KEY": base64.b64encode(os.urandom(32)).decode(),
        "MODERATION_EVIDENCE_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
        "MODERATION_MEDIA_DIR": media_dir,
        "MODERATION_RATE_LIMIT_PLATFORM": "100000000/minute",
    }
    app = create_app({key[len("MODERATION_") :]: value for key, value in env.items()})
    with app.app_context():
        creds = create_platform(db.session, "bench")
    app.extensions["moderation.db"][0].dispose()
    return creds.webhook_secret, env


def _gunicorn(app_spec: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        app_spec,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--chdir",
        str(ROOT),
        "--pythonpath",
        str(ROOT / "bench"),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, env={**os.environ, **env})
    if not wait_for_port(port, timeout=30):
        raise RuntimeError(f"nothing listens on port {port}")
    return process


def _body(with_image: bool) -> bytes:
    body = {
        "external_id": "bench",
        "category": "ncii",
        "reporter": {"kind": "user", "id": "u-1"},
        "comment": "benchmark report",
        "content": {
            "url": "https://social.example/p/1",
            "text": "look at her",
            "posted_by": {"id": "acct-9", "handle": "someone"},
            "context": {"chat_id": "room-1", "member_count": 2400},
            "media": [],
        },
    }
    if with_image:
        from tests.factories import make_image

        image = make_image(1, size=(320, 240))
        body["content"]["media"] = [{"data": base64.b64encode(image).decode(), "filename": "a.jpg"}]
    return json.dumps(body).encode()


def _client_loop(
    port: int,
    secret: str | None,
    body: bytes,
    stop_at: float,
    budget: int,
    latencies: list[float],
    statuses: dict[int, int],
    lock: threading.Lock,
) -> None:
    from moderation.intake.signatures import sign_standard

    path = "/api/v1/platforms/bench/reports"
    while time.monotonic() < stop_at:
        with lock:
            if len(latencies) >= budget:
                return
        headers = {"Content-Type": "application/json"}
        if secret:
            msg_id, stamp = f"msg_{uuid.uuid4().hex}", int(time.time())
            headers.update(
                {
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(stamp),
                    "webhook-signature": sign_standard(secret, msg_id, stamp, body),
                }
            )
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            statuses[response.status] = statuses.get(response.status, 0) + 1


def _load(args: tuple) -> dict:
    """Run in a separate process: `clients` threads against one server, bounded in time/count."""
    port, secret, body, seconds, clients, budget = args
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    started = time.monotonic()
    stop_at = started + seconds
    threads = [
        threading.Thread(
            target=_client_loop,
            args=(port, secret, body, stop_at, budget, latencies, statuses, lock),
        )
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    latencies.sort()

    def percentile(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0
        )

    return {
        "requests": len(latencies),
        "seconds": round(wall, 2),
        "rps": round(len(latencies) / wall, 1),
        "p50_ms": round(percentile(0.50), 2),
        "p99_ms": round(percentile(0.99), 2),
        "statuses": statuses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--with-image", action="store_true")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "MODERATION_BENCH_DATABASE_URL",
            "postgresql+psycopg://postgres@127.0.0.1:5432/mq_intake",
        ),
    )
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="bench-intake-")
    redis, redis_port = start_redis_server(workdir)
    servers: list[subprocess.Popen] = []
    try:
        database_url = _bench_database(args.database_url)
        secret, env = _prepare_intake(
            database_url, f"redis://127.0.0.1:{redis_port}/0", f"{workdir}/media"
        )
        body = _body(args.with_image)
        bare_port, bare_db_port, intake_port = free_port(), free_port(), free_port()
        bare_libs_port = free_port()
        servers.append(_gunicorn("intake:bare_app()", bare_port, args.workers, {}))
        bare_db_env = {"BENCH_BARE_DB_URL": _prepare_bare_db(database_url)}
        servers.append(_gunicorn("intake:bare_db_app()", bare_db_port, args.workers, bare_db_env))
        # Its own Redis database, so its queue does not mix with intake's.
        bare_libs_env = {
            "BENCH_REDIS_URL": f"redis://127.0.0.1:{redis_port}/1",
            "BENCH_SECRET": secret,
        }
        servers.append(
            _gunicorn("intake:bare_libs_app()", bare_libs_port, args.workers, bare_libs_env)
        )
        servers.append(_gunicorn("moderation.wsgi:app", intake_port, args.workers, env))
        context = multiprocessing.get_context("spawn")
        results = {}
        with context.Pool(1) as pool:
            for name, port, key in (
                ("bare", bare_port, None),
                ("bare_db", bare_db_port, None),
                ("bare_libs", bare_libs_port, secret),
                ("intake", intake_port, secret),
            ):
                pool.apply(
                    _load, ((port, key, body, 2.0, args.clients, args.max_requests),)
                )  # warm up
                results[name] = pool.apply(
                    _load, ((port, key, body, args.seconds, args.clients, args.max_requests),)
                )
        ratio = results["intake"]["rps"] / results["bare"]["rps"] if results["bare"]["rps"] else 0.0
        bare_db = results["bare_db"]["rps"]
        ratio_db = results["intake"]["rps"] / bare_db if bare_db else 0.0
        summary = {
            "body_bytes": len(body),
            "workers": args.workers,
            "clients": args.clients,
            "bare": results["bare"],
            "intake": results["intake"],
            "bare_db": results["bare_db"],
            "bare_libs": results["bare_libs"],
            "throughput_ratio": round(ratio, 3),
            "throughput_ratio_vs_bare_db": round(ratio_db, 3),
            # The ceiling the named libraries alone leave, before any storage.
            "bare_libs_ratio": round(results["bare_libs"]["rps"] / results["bare"]["rps"], 3)
            if results["bare"]["rps"]
            else 0.0,
            "libs_plus_one_insert_ceiling_ratio": _ceiling_ratio(results),
            "goal_met": ratio >= 0.5 and results["intake"]["p99_ms"] < 50,
        }
        print(json.dumps(summary, indent=2))
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def _ceiling_ratio(results: dict) -> float:
    """Estimated best ratio for any intake that both uses the named libraries (`bare_libs`) and
    durably stores one row (`bare_db`): on a CPU-bound machine a request costs about 1/rps of
    machine time, and each baseline's extra over `bare` adds. Intake does more than that (the
    platform and replay look-up, the delivery and audit rows), so it cannot beat this."""
    bare, libs, stored = (results[name]["rps"] for name in ("bare", "bare_libs", "bare_db"))
    if not (bare and libs and stored):
        return 0.0
    return round(1 / (1 / libs + 1 / stored - 1 / bare) / bare, 3)


if __name__ == "__main__":
    main()
