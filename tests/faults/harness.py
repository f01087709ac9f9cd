"""What the fault tests share: private Redis and PostgreSQL servers the test starts, stops and
restarts itself; real `moderation worker` and `moderation cron` processes; a sender that posts
signed deliveries and keeps count; and the one check every fault ends with (each acknowledged
report reached review exactly once, no medium twice, the audit chain whole)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from redis import Redis
from sqlalchemy import func, select

from models import AuditEvent, Media, Report, ReportStatus
from moderation.core.db import db
from moderation.core.localservices import free_port, start_redis_server, wait_for_port
from moderation.core.redis_conn import get_redis
from moderation.settings import settings_for
from moderation.triage import sweeper
from tests.conftest import TEST_MEDIA_KEY
from tests.factories import PlatformInfo, signed_headers

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")

# FAULTS_SCALE=full (`make test-faults`) runs the long loops at the sizes the issue names; by
# default (`make test`, CI) each test runs a shortened version well under a minute.
FULL = os.environ.get("FAULTS_SCALE", "") == "full"


def scaled(full: int, short: int) -> int:
    """`full` under FAULTS_SCALE=full, else `short`."""
    return full if FULL else short


def wait_for(condition: Callable[[], bool], seconds: float, what: str, every: float = 0.5) -> float:
    """Seconds until `condition()` held; AssertionError naming `what` after `seconds`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"gave up waiting for {what} after {seconds:.0f} s")
        time.sleep(every)
    return time.monotonic() - started


def report_status(app, report_id: int) -> str:
    with app.app_context():
        return db.session.execute(select(Report.status).where(Report.id == report_id)).scalar_one()


def sweep(app) -> list[int]:
    """One sweeper round, as `moderation sweep` or the cron's job runs it."""
    with app.app_context():
        return sweeper.sweep_pending(db.session, get_redis(), settings_for(app).sweep)


class RedisServer:
    """A private redis-server on one free port, which a test can shut down and start again on
    the same port (so clients reconnect as they would to a restarted production Redis)."""

    def __init__(self, *options: str) -> None:
        self.directory = tempfile.mkdtemp(prefix="moderation-fault-redis-")
        self.options = options
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.start()

    def url(self, number: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{number}"

    def client(self) -> Redis:
        return Redis.from_url(self.url(), socket_connect_timeout=2, socket_timeout=5)

    def start(self) -> None:
        self.process, _ = start_redis_server(self.directory, port=self.port, options=self.options)

    def shutdown_nosave(self) -> None:
        """`redis-cli SHUTDOWN NOSAVE`: everything in memory is gone."""
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "SHUTDOWN", "NOSAVE"],
            check=False,
            capture_output=True,
            timeout=10,
        )
        if self.process is not None:
            self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)


def wait_until_serving(server: RedisServer, workers: int = 1, cron: bool = False) -> None:
    """Until `workers` RQ workers have registered with `server` (and, with `cron`, a cron
    process has taken its first period lock): started processes are up before the fault."""
    from rq import Worker

    connection = server.client()
    wait_for(lambda: Worker.count(connection=connection) >= workers, 60, "the workers to start")
    if cron:
        wait_for(lambda: bool(connection.keys("moderation:cron:*")), 60, "the cron to start")


def _as_postgres(command: list[str]) -> list[str]:
    # initdb refuses to run as root; the cluster belongs to the postgres OS user then.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def postgres_missing() -> str | None:
    """Why a private PostgreSQL cannot be started here, or None."""
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        return f"PostgreSQL 15 binaries are not installed in {PG_BIN}"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root and runuser is missing"
    return None


class PostgresCluster:
    """A private PostgreSQL cluster (initdb, pg_ctl) on a free loopback port with its socket in
    its own temporary folder; never the shared service."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="moderation-fault-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres"]
                + ["--auth=trust", "-E", "UTF8", "--no-sync"]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args]),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c max_connections=60"
        )
        self._ctl("-o", options, "-l", str(self.root / "log"), "-w", "start")
        assert wait_for_port(self.port), "the private PostgreSQL did not open its port"

    def stop(self, mode: str = "immediate") -> None:
        self._ctl("-m", mode, "-w", "stop")

    def close(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)


def make_app(database_url: str, redis_url: str, tmp_path: Path):
    """An app like the suite's `app` fixture, on stores the test started itself (a private
    PostgreSQL, say) rather than the suite's; the caller creates the schema."""
    from moderation import create_app

    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "MEDIA_KEY": TEST_MEDIA_KEY,
            "MEDIA_DIR": str(tmp_path / "media"),
            "BANK_INDEX_DIR": str(tmp_path / "pdq-index"),
            "SERVER_NAME": "localhost",
            "PREFERRED_URL_SCHEME": "http",
        }
    )


def worker_env(app, database_url: str, redis_url: str, **settings: Any) -> dict[str, str]:
    """The environment of a `moderation` process with the test app's stores and keys, plus
    `settings` (config names without the MODERATION_ prefix)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MODERATION_")}
    env.update(
        MODERATION_ENV="development",
        MODERATION_DATABASE_URL=database_url,
        MODERATION_REDIS_URL=redis_url,
        MODERATION_SECRET_KEY=app.config["SECRET_KEY"],
        MODERATION_MEDIA_KEY=TEST_MEDIA_KEY,
        MODERATION_MEDIA_DIR=app.config["MEDIA_DIR"],
        MODERATION_BANK_INDEX_DIR=app.config["BANK_INDEX_DIR"],
        MODERATION_CLASSIFIER_MODEL="",
        MODERATION_EVIDENCE_SIGNING_KEY=str(app.config.get("EVIDENCE_SIGNING_KEY") or ""),
    )
    for name, value in settings.items():
        env[f"MODERATION_{name}"] = str(value)
    return env


def start_command(
    args: list[str], env: dict[str, str], log: Path | None = None
) -> subprocess.Popen:
    """`moderation ARGS...` in its own process group (killed whole, as a host dies); its output
    goes to `log` (read it when a test fails) or nowhere."""
    out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "moderation", *args],
        env=env,
        cwd=REPO,
        start_new_session=True,
        stdout=out,
        stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
    )


def kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class StallingMediaHost:
    """Serves `picture` at any path, but holds each request while `hold` is set (a slow media
    host; clear `hold` to let requests through)."""

    def __init__(self, picture: bytes) -> None:
        self.hold = threading.Event()
        self.hold.set()
        self.requests = 0
        stall = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                stall.requests += 1
                deadline = time.monotonic() + 120
                while stall.hold.is_set() and time.monotonic() < deadline:
                    time.sleep(0.2)
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(picture)))
                self.end_headers()
                self.wfile.write(picture)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client killed mid-answer (the fault under test) is not news

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


# The sweeper's timings the fault tests run with (the defaults are 120 s and 30 s).
SWEEP_AFTER = 3  # SWEEP_PENDING_AFTER_SECONDS: a received report is swept once this old
SWEEP_EVERY = 5  # CRON_SWEEP_INTERVAL_SECONDS


def start_worker_and_cron(
    app, database_url: str, redis_url: str, tmp_path: Path, **settings: Any
) -> tuple[subprocess.Popen, subprocess.Popen]:
    """A `moderation worker` on every queue and a `moderation cron` (sweeping every
    SWEEP_EVERY s), logging to tmp_path/worker.log and cron.log."""
    app.config.update(CLASSIFIER_MODEL="", MEDIA_INDEX_DIR=str(tmp_path / "media-index"))
    env = worker_env(
        app,
        database_url,
        redis_url,
        MEDIA_INDEX_DIR=tmp_path / "media-index",
        SWEEP_PENDING_AFTER_SECONDS=SWEEP_AFTER,
        CRON_SWEEP_INTERVAL_SECONDS=SWEEP_EVERY,
        **settings,
    )
    worker = start_command(["worker", "--log-level", "WARNING"], env, tmp_path / "worker.log")
    cron = start_command(["cron"], env, tmp_path / "cron.log")
    return worker, cron


@dataclass
class Delivery:
    msg_id: str
    raw: bytes
    answers: list[int] = field(default_factory=list)
    report_id: int | None = None


@dataclass
class Sender:
    """A platform that signs each delivery, and on 503 retries it (same `webhook-id`, as
    Standard Webhooks senders do) honouring that a Retry-After came with it. Counts everything."""

    client: Any
    platform: PlatformInfo
    deliveries: list[Delivery] = field(default_factory=list)
    answers: Counter = field(default_factory=Counter)
    missing_retry_after: int = 0

    def post(self, delivery: Delivery) -> int:
        response = self.client.post(
            f"/api/v1/platforms/{self.platform.slug}/reports",
            data=delivery.raw,
            headers=signed_headers(self.platform.webhook_secret, delivery.raw, delivery.msg_id),
        )
        delivery.answers.append(response.status_code)
        self.answers[response.status_code] += 1
        if response.status_code == 202:
            report_id = response.get_json()["id"]
            assert delivery.report_id in (None, report_id), "one delivery, two reports"
            delivery.report_id = report_id
        elif response.status_code == 503 and not response.headers.get("Retry-After"):
            self.missing_retry_after += 1
        return response.status_code

    def send(self, body: dict[str, Any]) -> Delivery:
        delivery = Delivery(f"msg_{uuid.uuid4().hex}", json.dumps(body).encode())
        self.deliveries.append(delivery)
        self.post(delivery)
        return delivery

    def retry_unacknowledged(self, attempts: int = 5, pause: float = 0.5) -> None:
        for _ in range(attempts):
            waiting = [d for d in self.deliveries if d.report_id is None]
            if not waiting:
                return
            for delivery in waiting:
                self.post(delivery)
            time.sleep(pause)

    @property
    def acknowledged(self) -> list[int]:
        return [d.report_id for d in self.deliveries if d.report_id is not None]

    def figures(self) -> str:
        return (
            f"sent {len(self.deliveries)}, acknowledged {len(self.acknowledged)}, "
            f"answers {dict(sorted(self.answers.items()))}"
        )


def triaged_counts(app, report_ids: Iterable[int]) -> Counter:
    """How many `report.triaged` audit events each report has (reaching review writes one)."""
    ids = [str(report_id) for report_id in report_ids]
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.object_id, func.count())
            .where(AuditEvent.action == "report.triaged", AuditEvent.object_id.in_(ids))
            .group_by(AuditEvent.object_id)
        ).all()
    return Counter({int(object_id): count for object_id, count in rows})


def queued_count(app, report_ids: list[int]) -> int:
    with app.app_context():
        count = db.session.execute(
            select(func.count())
            .select_from(Report)
            .where(Report.id.in_(report_ids), Report.status == ReportStatus.QUEUED)
        ).scalar_one()
        db.session.rollback()
    return count


def all_queued(app, report_ids: list[int]) -> Callable[[], bool]:
    return lambda: queued_count(app, report_ids) == len(report_ids)


def wait_all_queued(app, report_ids: list[int], seconds: float, redis: Redis) -> float:
    """wait_for every report to be `queued`; on timeout the error says where the others are
    (their status and attempts, and their triage job's state in Redis)."""
    from rq.job import Job
    from rq.serializers import JSONSerializer

    from moderation.core.queueing import triage_job_id

    try:
        return wait_for(all_queued(app, report_ids), seconds, "every acknowledged report triaged")
    except AssertionError as exc:
        with app.app_context():
            rows = db.session.execute(
                select(Report.id, Report.status, Report.triage_attempts)
                .where(Report.id.in_(report_ids), Report.status != ReportStatus.QUEUED)
                .limit(20)
            ).all()
        jobs = Job.fetch_many(
            [triage_job_id(row[0]) for row in rows], connection=redis, serializer=JSONSerializer
        )
        states = [
            f"#{row[0]} {row[1]} x{row[2]} job {job.get_status() if job else None}"
            for row, job in zip(rows, jobs, strict=True)
        ]
        raise AssertionError(f"{exc}; waiting: {states}") from None


@dataclass
class Outcome:
    sent: int
    acknowledged: int
    queued: int
    lost: int
    duplicated: int

    def line(self) -> str:
        return (
            f"sent / acknowledged / queued / lost / duplicated: {self.sent} / "
            f"{self.acknowledged} / {self.queued} / {self.lost} / {self.duplicated}"
        )


def assert_each_reviewed_once(
    app, sender: Sender, media_per_report: int, expected_reports: int | None = None
) -> Outcome:
    """Every acknowledged report is `queued` (in review) with exactly one triage on record, no
    report exists that was not acknowledged, each has its media rows and no more, and the
    audit chain verifies. Returns the figures for docs/RELIABILITY.md."""
    from moderation.audit import events as audit

    acknowledged = sender.acknowledged
    assert len(set(acknowledged)) == len(acknowledged), "two deliveries share a report"
    counts = triaged_counts(app, acknowledged)
    with app.app_context():
        statuses = dict(db.session.execute(select(Report.id, Report.status)).all())
        media = Counter(db.session.execute(select(Media.report_id)).scalars())  # rows per report
        audit.seal_pending(db.session)
        verdict = audit.verify_chain(db.session)
    queued = sum(1 for report_id in acknowledged if statuses.get(report_id) == ReportStatus.QUEUED)
    lost = sum(1 for report_id in acknowledged if counts[report_id] == 0)
    duplicated = sum(1 for report_id in acknowledged if counts[report_id] > 1)
    outcome = Outcome(len(sender.deliveries), len(acknowledged), queued, lost, duplicated)
    print(outcome.line(), "|", sender.figures())
    assert lost == 0 and duplicated == 0, outcome.line()
    assert queued == len(acknowledged), outcome.line()
    assert set(statuses) == set(acknowledged), "a report exists that no 202 acknowledged"
    if expected_reports is not None:
        assert len(statuses) == expected_reports
    assert all(media[report_id] == media_per_report for report_id in acknowledged), (
        "a report without its media rows, or with a medium twice"
    )
    assert verdict.ok, verdict
    return outcome


def after_the_fault(
    app, sender: Sender, bodies: Iterable[dict[str, Any]], slack: float = 30
) -> int:
    """Once a fault has cleared: send `bodies`, retry every delivery not yet acknowledged (as
    platforms do), and wait until every acknowledged report is triaged, within the sweeper's
    period (pending for SWEEP_AFTER, the next sweep, then triage, plus `slack`). Returns how
    many reports were acknowledged in all."""
    for body in bodies:
        sender.send(body)
    sender.retry_unacknowledged()
    acknowledged = sender.acknowledged
    bound = SWEEP_AFTER + 2 * SWEEP_EVERY + slack
    wait_for(all_queued(app, acknowledged), bound, "every acknowledged report triaged")
    return len(acknowledged)


def assert_still_running(during: str, **processes: subprocess.Popen) -> None:
    """The worker and the cron rode out the fault instead of exiting (their logs say why)."""
    for name, process in processes.items():
        assert process.poll() is None, f"the {name} quit {during} ({name}.log)"
