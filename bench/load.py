"""Load: intake and triage together at a rising rate, driven by locust (headless, in-process).

    .venv/bin/python bench/load.py --stages 2,4,8,16,32 --stage-seconds 30 --workers 2

Starts the real system as a deployment runs it: gunicorn serving `moderation.wsgi:app`
(--web-workers processes) and --workers `moderation worker triage` processes, on PostgreSQL
(the database named by --database is dropped and recreated) and Redis (--redis, flushed). Each
simulated sender posts signed Standard Webhooks deliveries, each a fresh report with one
synthetic 640x480 JPEG (from a pool of distinct pictures). The offered rate steps through
--stages (reports per second), each held for --stage-seconds.

Per stage it prints the offered and achieved rate, intake latency p50/p95/p99, the error rate,
and the queue lag: how long reports received in the stage took to be triaged (received ->
queued, p50/p95) and how many were still waiting at the stage's end. The sustained rate is the
highest stage with under 1 % errors whose backlog at its end was under two seconds of arrivals:
past it, triage falls behind and the backlog grows without bound.
"""

# locust patches the standard library with gevent; it must come before anything that opens
# sockets.
from locust import HttpUser, LoadTestShape, constant_throughput, task  # isort: skip
from locust.env import Environment  # isort: skip
from locust.runners import STATE_STOPPED  # isort: skip

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import triage as base  # noqa: E402  (bench/triage.py: the same set-up helpers)
from redis import Redis  # noqa: E402
from sqlalchemy import create_engine, select  # noqa: E402

from models import Report  # noqa: E402
from moderation.intake.signatures import sign_standard  # noqa: E402
from tests.factories import make_image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"


class Target:
    """What the senders share: the platform, its secret and the bodies to cycle through."""

    slug = ""
    secret = ""
    bodies: list[bytes] = []
    counter = itertools.count()


class Sender(HttpUser):
    wait_time = constant_throughput(1.0)  # one report a second each: users = reports/s

    @task
    def report(self) -> None:
        index = next(Target.counter)
        body = Target.bodies[index % len(Target.bodies)].replace(
            b'"EXTERNAL"', json.dumps(f"load-{index}").encode()
        )
        msg_id, stamp = f"msg_{uuid.uuid4().hex}", int(time.time())
        self.client.post(
            f"/api/v1/platforms/{Target.slug}/reports",
            data=body,
            headers={
                "webhook-id": msg_id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": sign_standard(Target.secret, msg_id, stamp, body),
                "content-type": "application/json",
            },
            name="POST report",
        )


class Stages(LoadTestShape):
    rates: list[int] = []
    seconds = 30

    def tick(self):  # type: ignore[no-untyped-def]
        stage = int(self.get_run_time() // self.seconds)
        if stage >= len(self.rates):
            return None
        rate = self.rates[stage]
        return rate, max(rate, 1)  # users, spawn rate (all of a stage's users within a second)


def _body(data: bytes) -> bytes:
    import base64

    return json.dumps(
        {
            "external_id": "EXTERNAL",
            "category": "ncii",
            "reporter": {"kind": "user", "id": "load"},
            "content": {"media": [{"data": base64.b64encode(data).decode(), "filename": "m.jpg"}]},
        }
    ).encode()


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _ms(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", default="2,4,8,16,32", help="reports per second, per stage")
    parser.add_argument("--stage-seconds", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2, help="triage worker processes")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--pictures", type=int, default=200, help="distinct pictures cycled")
    parser.add_argument(
        "--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/mq_load_bench"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--drain-seconds", type=int, default=300)
    args = parser.parse_args()
    Stages.rates = [int(rate) for rate in args.stages.split(",")]
    Stages.seconds = args.stage_seconds

    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    base._reset_database(args.database)
    redis = Redis.from_url(args.redis)
    redis.flushdb()
    env = base._environment(args, workdir)
    print(f"generating {args.pictures} synthetic 640x480 JPEGs ...", flush=True)
    Target.bodies = [_body(make_image(20_000 + i, (640, 480))) for i in range(args.pictures)]
    Target.slug, Target.secret = base._setup(env, [], False)

    port = base._free_port()
    host = f"http://127.0.0.1:{port}"
    gunicorn = [str(BIN / "gunicorn"), "-w", str(args.web_workers), "-b", f"127.0.0.1:{port}"]
    processes = [
        subprocess.Popen(
            [*gunicorn, "--log-level", "warning", "moderation.wsgi:app"], env=env, cwd=ROOT
        )
    ]
    processes += base.start_triage_workers(env, args.workers)
    samples: list[tuple[float, float, bool]] = []  # (time sent, ms, ok)
    backlog: list[tuple[float, int]] = []  # (time, reports received and not yet queued)
    engine = create_engine(args.database)

    def _record(response_time, exception, response, **_: object) -> None:  # type: ignore[no-untyped-def]
        ok = exception is None and response is not None and response.status_code == 202
        samples.append((time.time() - response_time / 1000, response_time, ok))

    def _sample_backlog() -> None:
        from sqlalchemy import func

        while True:
            with engine.connect() as connection:
                waiting = connection.execute(
                    select(func.count()).select_from(Report).where(Report.queued_at.is_(None))
                ).scalar_one()
            backlog.append((time.time(), int(waiting)))
            gevent.sleep(1.0)

    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{host}/api/openapi.json", timeout=1)  # noqa: S310
                break
            except OSError:
                time.sleep(0.1)
        # Warm-up: each worker loads its classifier on its first job.
        warm = [
            base._post(f"{host}/api/v1/platforms/{Target.slug}/reports", Target.secret,
                       base._body(make_image(80_000 + i, (640, 480)), -i - 1))
            for i in range(2 * args.workers)
        ]  # fmt: skip
        base._wait_queued(engine, warm, 180)
        environment = Environment(user_classes=[Sender], shape_class=Stages(), host=host)
        environment.events.request.add_listener(_record)  # the environment's own event hooks
        runner = environment.create_local_runner()
        sampler = gevent.spawn(_sample_backlog)
        cpu_before = base._process_cpu()
        started = time.time()
        runner.start_shape()
        gevent.sleep(1.0)
        # The runner's greenlet lives until quit(); the shape has ended when it stops.
        while runner.state != STATE_STOPPED:
            gevent.sleep(0.5)
        runner.quit()
        ended = time.time()
        # Where the cores went while load was offered: the first bottleneck is whoever needed
        # more than its share.
        cpu = base._cpu_split(
            cpu_before, base._process_cpu(), processes[0].pid, {p.pid for p in processes[1:]}
        )
        drain_started = time.time()
        while time.time() - drain_started < args.drain_seconds:
            if backlog and backlog[-1][1] == 0 and backlog[-1][0] > ended:
                break
            gevent.sleep(1.0)
        drained = time.time() - drain_started
        sampler.kill()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)

    with engine.connect() as connection:
        rows = connection.execute(
            select(Report.received_at, Report.queued_at).where(Report.received_at.is_not(None))
        ).all()
    engine.dispose()
    print(
        f"\n{'offered/s':>9} {'achieved/s':>10} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'errors':>7} {'lag p50 s':>9} {'lag p95 s':>9} {'backlog':>7}"
    )
    figures = []
    for stage, rate in enumerate(Stages.rates):
        start = started + stage * args.stage_seconds
        end = start + args.stage_seconds
        inside = [sample for sample in samples if start <= sample[0] < end]
        times = [ms for _, ms, _ in inside]
        errors = sum(1 for *_, ok in inside if not ok)
        lag = [
            (queued - received).total_seconds()
            for received, queued in rows
            if queued is not None and start <= received.timestamp() < end
        ]
        at_end = [waiting for moment, waiting in backlog if moment <= end]
        stage_figures = {
            "offered_per_s": rate,
            "achieved_per_s": round(len(inside) / args.stage_seconds, 2),
            "p50_ms": _ms(_percentile(times, 0.5)),
            "p95_ms": _ms(_percentile(times, 0.95)),
            "p99_ms": _ms(_percentile(times, 0.99)),
            "error_rate": round(errors / len(inside), 4) if inside else None,
            "lag_p50_s": _ms(_percentile(lag, 0.5)),
            "lag_p95_s": _ms(_percentile(lag, 0.95)),
            "backlog_at_end": at_end[-1] if at_end else None,
        }
        figures.append(stage_figures)
        print(" ".join(f"{value!s:>9}" for value in stage_figures.values()))
    sustained = [
        stage["achieved_per_s"]
        for stage in figures
        if (stage["error_rate"] or 0) < 0.01
        and stage["backlog_at_end"] is not None
        and stage["backlog_at_end"] <= 2 * stage["offered_per_s"]
    ]
    summary = {
        "workers": args.workers,
        "web_workers": args.web_workers,
        "cores": os.cpu_count(),
        "sustained_per_s": max(sustained) if sustained else 0,
        "drain_after_last_stage_s": round(drained, 1),
        "cpu_s_while_offered": cpu,
        "cpu_s_available": round((ended - started) * (os.cpu_count() or 1), 1),
        "reports": len(rows),
        "stages": figures,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
