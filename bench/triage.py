"""Benchmark of the triage path: signed HTTP intake (gunicorn) -> Redis -> `moderation worker`
processes -> queued, on PostgreSQL, against the in-process compute bound of the same machine.

    .venv/bin/python bench/triage.py --n 300 --workers 2 [--rate 3] \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/mq_triage_bench \\
        --redis redis://127.0.0.1:6379/3

Reports carry one synthetic 1280x720 JPEG each; every tenth is in a victim-submitted bank (by
PDQ; with --bank-md5 by MD5 too, as StopNCII shares them, so those exact copies take the urgent
triage queue at intake). With
--victim-every K, every Kth report (offset by one from the banked ones) is filed by its victim,
so it takes the urgent triage queue; the figures then include those reports' time to queued. The
database named by --database is dropped and recreated; the Redis database is flushed.
Figures: throughput from the first receipt to the last queued report, time-to-queue
percentiles (all and bank-matched), and the bound = min(workers, cores) / per-image compute
(encrypted-store read + decode + hashes + bank lookup + media-index lookup + classifier,
measured in this process). The bound counts triage's own work only: the intake server,
PostgreSQL and Redis share the same cores during the run, so a share of 1.0 is out of reach;
`cpu_by_process_s` says where the cores went during the run (Linux /proc accounting), and
`share_ceiling_if_workers_only_analysed` what share the rest of the path alone leaves room for.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis import Redis  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402

from models import Base, Report  # noqa: E402
from moderation.intake.signatures import sign_standard  # noqa: E402
from tests.factories import make_image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _reset_database(url: str) -> None:
    from moderation.core.dbadmin import sibling_database

    base, _, name = url.rpartition("/")
    sibling_database(f"{base}/postgres", name, recreate=True)
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()


def _environment(args: argparse.Namespace, workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MODERATION_DATABASE_URL": args.database,
        "MODERATION_REDIS_URL": args.redis,
        "MODERATION_SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
        "MODERATION_MEDIA_KEY": base64.b64encode(bytes(range(32))).decode(),
        # Production (gunicorn's default) refuses to start without an evidence signing key.
        "MODERATION_EVIDENCE_SIGNING_KEY": base64.b64encode(bytes(range(32, 64))).decode(),
        "MODERATION_MEDIA_DIR": str(workdir / "media"),
        "MODERATION_MEDIA_INDEX_DIR": str(workdir / "media-index"),
        "MODERATION_BANK_INDEX_DIR": str(workdir / "bank-index"),
        "MODERATION_RATELIMIT_ENABLED": "false",
        "MODERATION_ONNX_THREADS": "1",
        "FLASK_APP": "moderation",
    }


def _setup(env: dict[str, str], banked: list[bytes], md5: bool) -> tuple[str, str]:
    """Create the platform and the bank in this process; returns (slug, webhook secret)."""
    os.environ.update(env)
    from moderation import create_app
    from moderation.banks.service import add_to_bank, create_bank
    from moderation.core.db import db
    from moderation.intake.platforms import create_platform
    from moderation.media.imaging import hash_image

    app = create_app()
    with app.app_context():
        creds = create_platform(db.session, "bench")
        bank = create_bank(
            db.session, "bench-victims", kind="victim_submitted", actor_kind="system"
        )
        for data in banked:
            hashes = hash_image(data)[1]
            add_to_bank(db.session, bank.id, "pdq", hashes.pdq, source="bench")
            if md5:
                add_to_bank(db.session, bank.id, "md5", hashes.md5, source="bench")
    return creds.slug, creds.webhook_secret


def start_triage_workers(env: dict[str, str], count: int) -> list[subprocess.Popen]:
    """`count` `moderation worker triage` processes, as a deployment runs them."""
    return [
        subprocess.Popen(
            [str(BIN / "moderation"), "worker", "triage"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]


def _compute_bound(images: list[bytes], workers: int) -> dict[str, float]:
    """Per-image seconds of the work a triage job cannot avoid, in this process (warm): reading
    the image back from the encrypted media store (as triage does), then the analysis."""
    from moderation import create_app
    from moderation.banks import matching as bank_match
    from moderation.core.db import db
    from moderation.media.analysis import analyse_image
    from moderation.media.classifiers import classify_image, default_registry, warmup
    from moderation.media.imaging import ImageLimits
    from moderation.media.store import media_store_for
    from moderation.triage import clusters

    app = create_app()
    settings = clusters.ClusterSettings(index_dir=Path(tempfile.mkdtemp(prefix="bench-ix-")))
    warmup(registry=default_registry())
    store = media_store_for(app.config)
    keys = [store.put(data) for data in images]
    timings, reads = [], []
    with app.app_context():
        for key in keys:
            started = time.perf_counter()
            data = store.get(key)
            reads.append(time.perf_counter() - started)
            analysis = analyse_image(data, ImageLimits())
            bank_match.match_media(
                db.session,
                pdq_dihedral=analysis.dihedral,
                pdq_quality=analysis.dihedral_quality,
                md5=analysis.md5,
                sha256=analysis.sha256,
            )
            clusters.media_index(settings).search(db.session, analysis.dihedral, 31)
            classify_image(analysis.classifier_image)
            timings.append(time.perf_counter() - started)
        db.session.rollback()
    per_image = statistics.median(timings)
    parallel = min(workers, os.cpu_count() or 1)
    return {
        "per_image_ms": per_image * 1000,
        "store_read_ms": statistics.median(reads) * 1000,
        "parallel": parallel,
        "bound_per_s": parallel / per_image,
    }


def _post(url: str, secret: str, body: bytes) -> int:
    msg_id, stamp = f"msg_{uuid.uuid4().hex}", int(time.time())
    request = urllib.request.Request(  # noqa: S310 - a loopback URL this script built
        url,
        data=body,
        method="POST",
        headers={
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign_standard(secret, msg_id, stamp, body),
            "content-type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return int(json.loads(response.read())["id"])


def _body(data: bytes, index: int, kind: str = "user") -> bytes:
    return json.dumps(
        {
            "external_id": f"bench-{index}",
            "category": "ncii",
            "reporter": {"kind": kind, "id": "u"},
            "content": {"media": [{"data": base64.b64encode(data).decode(), "filename": "m.jpg"}]},
        }
    ).encode()


def _wait_queued(engine, ids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            left = connection.execute(
                select(text("count(*)"))
                .select_from(Report.__table__)
                .where(Report.id.in_(ids), Report.queued_at.is_(None))
            ).scalar_one()
        if left == 0:
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out with {left} report(s) not queued")


def _process_cpu() -> dict[int, tuple[str, int, float]]:
    """{pid: (command name, parent pid, CPU seconds so far)} of every process, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:  # gone since the listing
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        # fields[1] is the parent pid; fields[11] and [12] are user and system ticks.
        found[int(entry.name)] = (name, int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    return found


def _machine_seconds() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the whole machine so far (all cores), from /proc/stat.
    Stolen time is the hypervisor running someone else on our virtual CPUs."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle, steal = values[3] + values[4], values[7]  # idle and iowait; steal
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(values[:7]) - idle) / ticks, steal / ticks


def _cpu_split(
    before: dict[int, tuple[str, int, float]],
    after: dict[int, tuple[str, int, float]],
    web: int,
    workers: set[int],
) -> dict[str, float]:
    """CPU seconds spent during the run, by who spent them. Processes that ended during the run
    are missing (none of the long-lived ones here do)."""
    split = dict.fromkeys(
        ["triage_workers", "intake_web", "postgresql", "redis", "load_generator", "other"], 0.0
    )
    for pid, (name, parent, seconds) in after.items():
        spent = seconds - before.get(pid, (name, parent, 0.0))[2]
        if pid in workers:
            group = "triage_workers"
        elif web in (pid, parent):
            group = "intake_web"
        elif name.startswith("postgres"):
            group = "postgresql"
        elif name.startswith("redis-server"):
            group = "redis"
        elif pid == os.getpid():
            group = "load_generator"
        else:
            group = "other"
        split[group] += spent
    return {group: round(seconds, 2) for group, seconds in split.items()}


def _share_ceiling(
    reports: int, bound: dict[str, float], cpu_split: dict[str, float], cores: int
) -> float:
    """The share this run could have reached if the triage workers had spent CPU on the
    analysis alone (no claim, no writes, no queue bookkeeping) while everything else on the
    machine (intake, PostgreSQL, Redis, the load generator) cost what it did: their CPU plus the
    analysis, spread over every core."""
    others = sum(seconds for group, seconds in cpu_split.items() if group != "triage_workers")
    analysis = reports * bound["per_image_ms"] / 1000
    fastest = (analysis + others) / cores
    return round(reports / fastest / bound["bound_per_s"], 3) if fastest else 0.0


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="reports per second to send (0: as fast as possible)",
    )
    parser.add_argument(
        "--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/mq_triage_bench"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    parser.add_argument(
        "--victim-every",
        type=int,
        default=0,
        help="file every Kth report as its victim (the urgent triage queue); 0: none",
    )
    parser.add_argument(
        "--bank-md5",
        action="store_true",
        help="bank the MD5 of the banked images too (exact copies: the urgent triage queue)",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-triage-"))
    _reset_database(args.database)
    Redis.from_url(args.redis).flushdb()
    env = _environment(args, workdir)
    print(f"generating {args.n} synthetic 1280x720 JPEGs ...", flush=True)
    images = [make_image(10_000 + i, (1280, 720)) for i in range(args.n)]
    banked_positions = set(range(0, args.n, 10))
    slug, secret = _setup(env, [images[i] for i in sorted(banked_positions)], args.bank_md5)
    bound = _compute_bound([make_image(90_000 + i, (1280, 720)) for i in range(30)], args.workers)

    port = _free_port()
    processes = [
        subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-w",
                str(args.web_workers),
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "moderation.wsgi:app",
            ],
            env=env,
            cwd=ROOT,
        )
    ]
    processes += start_triage_workers(env, args.workers)
    engine = create_engine(args.database)
    url = f"http://127.0.0.1:{port}/api/v1/platforms/{slug}/reports"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/openapi.json", timeout=1)  # noqa: S310
                break
            except OSError:
                time.sleep(0.1)
        # Warm-up: each worker loads its classifier session on its first job.
        warm = [
            _post(url, secret, _body(make_image(80_000 + i, (1280, 720)), -i - 1))
            for i in range(2 * args.workers)
        ]
        _wait_queued(engine, warm, 120)
        victims = {i for i in range(args.n) if args.victim_every and i % args.victim_every == 1}
        bodies = [
            _body(data, i, "victim" if i in victims else "user") for i, data in enumerate(images)
        ]
        cpu_before, machine_before = _process_cpu(), _machine_seconds()
        started = time.perf_counter()

        def send(item: tuple[int, bytes]) -> int:
            if args.rate:
                # Paced: report i leaves at i / rate seconds, so the load is steady, not a burst.
                time.sleep(max(0.0, started + item[0] / args.rate - time.perf_counter()))
            return _post(url, secret, item[1])

        with ThreadPoolExecutor(args.senders) as pool:
            ids = list(pool.map(send, enumerate(bodies)))
        posted = time.perf_counter() - started
        _wait_queued(engine, ids, 600)
        cpu_split = _cpu_split(
            cpu_before, _process_cpu(), processes[0].pid, {p.pid for p in processes[1:]}
        )
        busy, stolen = (a - b for a, b in zip(_machine_seconds(), machine_before, strict=True))
        window = time.perf_counter() - started
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)

    with engine.connect() as connection:
        rows = connection.execute(
            select(Report.id, Report.received_at, Report.queued_at, Report.priority_reasons).where(
                Report.id.in_(ids)
            )
        ).all()
    engine.dispose()
    first = min(row.received_at for row in rows)
    last = min(row.queued_at for row in rows), max(row.queued_at for row in rows)
    span = (last[1] - first).total_seconds()
    latency = [(row.queued_at - row.received_at).total_seconds() for row in rows]
    banked = [
        (row.queued_at - row.received_at).total_seconds()
        for row in rows
        if any(r.get("code") == "bank.victim_submitted" for r in row.priority_reasons)
    ]
    victim_ids = {ids[i] for i in victims}
    urgent = [
        (row.queued_at - row.received_at).total_seconds() for row in rows if row.id in victim_ids
    ]
    throughput = len(rows) / span
    figures = {
        "reports": len(rows),
        "send_rate_per_s": args.rate or "unpaced",
        "workers": args.workers,
        "cores": os.cpu_count(),
        "posting_s": round(posted, 2),
        "receipt_to_last_queued_s": round(span, 2),
        "throughput_per_s": round(throughput, 2),
        "compute_per_image_ms": round(bound["per_image_ms"], 1),
        "of_which_store_read_ms": round(bound["store_read_ms"], 2),
        "bound_per_s": round(bound["bound_per_s"], 2),
        "share_of_bound": round(throughput / bound["bound_per_s"], 3),
        "time_to_queue_p50_s": round(_percentile(latency, 0.5), 3),
        "time_to_queue_p99_s": round(_percentile(latency, 0.99), 3),
        "bank_matched": len(banked),
        "bank_matched_p50_s": round(_percentile(banked, 0.5), 3) if banked else None,
        "bank_matched_p99_s": round(_percentile(banked, 0.99), 3) if banked else None,
        "victim_reports": len(urgent),
        "victim_p50_s": round(_percentile(urgent, 0.5), 3) if urgent else None,
        "victim_p99_s": round(_percentile(urgent, 0.99), 3) if urgent else None,
        # Where the cores went from the first send until the last report was queued: the bound
        # counts only the analysis share of `triage_workers`.
        "cpu_window_s": round(window, 2),
        "cpu_available_s": round(window * (os.cpu_count() or 1), 2),
        "cpu_busy_s": round(busy, 2),
        "cpu_stolen_s": round(stolen, 2),
        "cpu_by_process_s": cpu_split,
        "analysis_cpu_s": round(len(rows) * bound["per_image_ms"] / 1000, 2),
        "share_ceiling_if_workers_only_analysed": _share_ceiling(
            len(rows), bound, cpu_split, os.cpu_count() or 1
        ),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
