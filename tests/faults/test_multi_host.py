"""More than one host: two web and two worker processes, each with its own instance and temp
folders and PDQ index folders and nothing on a shared disk (media in S3, moto's server on its
own loopback address), each web process on its own loopback address, sharing only PostgreSQL
and Redis. A report posted to one web process is triaged by a worker elsewhere and reviewable
on the other web process; a copy posted after that worker's host is gone is triaged by the
other worker, whose PDQ index (rebuilt from the database on that host, never shipped) finds the
first, so the two land in one cluster."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.exc import OperationalError

from models import Base, Media, Report
from moderation.core.db import db
from moderation.core.localservices import free_port
from moderation.media.store import MAGIC
from tests.factories import PASSWORD, login, make_image, make_platform, make_user, signed_headers
from tests.faults.harness import (
    REPO,
    kill_group,
    make_app,
    start_command,
    wait_for,
    worker_env,
)

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass
class Host:
    name: str
    root: Path
    address: str

    def env(self, base: dict[str, str]) -> dict[str, str]:
        for folder in ("instance", "tmp"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        return {
            **base,
            "MODERATION_INSTANCE_PATH": str(self.root / "instance"),
            "TMPDIR": str(self.root / "tmp"),
            "MODERATION_MEDIA_INDEX_DIR": str(self.root / "media-index"),
            "MODERATION_BANK_INDEX_DIR": str(self.root / "bank-index"),
        }


class HttpClient:
    """A browser-ish client of one web process with the Flask test client's few methods that
    tests/factories.login uses, so the real sign-in (password, then TOTP) runs over HTTP."""

    def __init__(self, base: str, application) -> None:
        self.base, self.application = base, application
        self.session = requests.Session()

    def _wrap(self, response: requests.Response) -> requests.Response:
        response.get_data = lambda as_text=False: response.text if as_text else response.content
        return response

    def get(self, path: str) -> requests.Response:
        return self._wrap(self.session.get(self.base + path, allow_redirects=False, timeout=30))

    def post(self, path: str, data=None, headers=None) -> requests.Response:
        return self._wrap(
            self.session.post(
                self.base + path, data=data, headers=headers, allow_redirects=False, timeout=30
            )
        )


def _database() -> str:
    from moderation.core.dbadmin import sibling_database

    try:
        return sibling_database(PG, f"test_multihost_{uuid.uuid4().hex[:8]}", recreate=True)
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is needed: {exc.orig}")


def _drop(url: str) -> None:
    base, _, name = url.rpartition("/")
    engine = create_engine(f"{base}/test", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


def _listening(address: str, port: int, seconds: float, log: Path) -> None:
    def accepts() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex((address, port)) == 0

    try:
        wait_for(accepts, seconds, f"{address}:{port} to listen", every=0.1)
    except AssertionError:
        raise AssertionError(log.read_text(errors="replace")[-3000:]) from None


def _moto(address: str, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", address, "-p", str(port)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    _listening(address, port, 30, log)
    return process, f"http://{address}:{port}"


def _web(host: Host, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"{host.address}:{port}",
         "moderation.wsgi:app"],
        env=env, cwd=REPO, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    _listening(host.address, port, 60, log)
    return process, f"http://{host.address}:{port}"


def _post(web: str, platform, picture: bytes) -> int:
    raw = (
        '{"category": "ncii", "reporter": {"kind": "user", "id": "u"}, "content": {"media": '
        f'[{{"data": "{base64.b64encode(picture).decode()}", "filename": "m.jpg"}}]}}}}'
    ).encode()
    response = requests.post(
        f"{web}/api/v1/platforms/{platform.slug}/reports",
        data=raw,
        headers=signed_headers(platform.webhook_secret, raw),
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def _triaged_by(app, report_id: int) -> str:
    from rq.job import Job
    from rq.serializers import JSONSerializer

    from moderation.core.redis_conn import get_redis

    with app.app_context():
        job = Job.fetch(f"triage-report-{report_id}", get_redis(), serializer=JSONSerializer)
        return str(job.worker_name)


def test_two_web_and_two_worker_hosts_share_only_the_database_redis_and_s3(
    redis_url, tmp_path: Path
) -> None:
    database_url = _database()
    processes: list[subprocess.Popen] = []
    try:
        moto, endpoint = _moto("127.0.0.4", tmp_path / "moto.log")
        processes.append(moto)
        aws = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
        import boto3

        s3 = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        s3.create_bucket(Bucket="evidence")
        storage = {"MEDIA_STORAGE_URL": "s3://evidence/originals", "S3_ENDPOINT_URL": endpoint}

        # This process is the operator's shell: schema, a platform, a moderator.
        app = make_app(database_url, redis_url, tmp_path / "operator")
        app.config.update(storage, MEDIA_DIR=None)
        engine = create_engine(database_url)
        Base.metadata.create_all(engine)
        engine.dispose()
        platform = make_platform(app, "acme")
        make_user(app, "mod@example.org", "moderator")

        base = worker_env(app, database_url, redis_url, **storage)
        base.pop("MODERATION_MEDIA_DIR")  # no shared folder: media live in S3 only
        base.pop("MODERATION_BANK_INDEX_DIR")
        base.update(aws)
        hosts = {
            name: Host(name, tmp_path / name, address)
            for name, address in [("web-a", "127.0.0.2"), ("web-b", "127.0.0.3"),
                                  ("worker-1", "127.0.0.5"), ("worker-2", "127.0.0.6")]
        }  # fmt: skip
        web_a_process, web_a = _web(hosts["web-a"], hosts["web-a"].env(base), tmp_path / "a.log")
        web_b_process, web_b = _web(hosts["web-b"], hosts["web-b"].env(base), tmp_path / "b.log")
        processes += [web_a_process, web_b_process]

        def worker(name: str) -> subprocess.Popen:
            env = hosts[name].env(base)
            log = tmp_path / f"{name}.log"
            process = start_command(["worker", "--log-level", "WARNING"], env, log)
            processes.append(process)
            return process

        def queued(report_id: int):
            def check() -> bool:
                with app.app_context():
                    return db.session.get(Report, report_id).status == "queued"

            return check

        picture = make_image(61, (480, 360))
        first_worker = worker("worker-1")
        first = _post(web_a, platform, picture)
        wait_for(queued(first), 120, "worker-1 to triage the report posted to web-a")
        # worker-1's host goes away; the copy posted to web-b is worker-2's, whose index
        # starts empty on its own disk and is rebuilt from the database.
        worker("worker-2")
        kill_group(first_worker)
        copy = _post(web_b, platform, picture)
        wait_for(queued(copy), 120, "worker-2 to triage the copy posted to web-b")
        assert _triaged_by(app, first) != _triaged_by(app, copy)
        # Each worker built its index in its own folder (nothing was copied between hosts).
        assert (hosts["worker-1"].root / "media-index").is_dir()
        assert (hosts["worker-2"].root / "media-index").is_dir()

        with app.app_context():
            reports = [db.session.get(Report, rid) for rid in (first, copy)]
            assert reports[0].cluster_id is not None
            assert reports[0].cluster_id == reports[1].cluster_id  # found by the other index
            media_id = db.session.execute(
                select(Media.id).where(Media.report_id == first)
            ).scalar_one()
        # The originals are in the bucket and on no host's disk (no file in any host folder is
        # a sealed media object; the .bin files there are PDQ index segments).
        listed = s3.list_objects_v2(Bucket="evidence", Prefix="originals/")["KeyCount"]
        assert listed == 1  # one picture, twice: content-addressed
        for host in hosts.values():
            sealed = [p for p in host.root.rglob("*") if p.is_file() and _is_sealed(p)]
            assert sealed == [], (host.name, sealed)

        # Reviewable on the other web process: sign in there and open the item and its preview.
        browser = HttpClient(web_b, app)
        assert login(browser, "mod@example.org", PASSWORD).status_code == 302
        page = browser.get(f"/review/{first}")
        assert page.status_code == 200
        preview = browser.get(f"/review/media/{media_id}/preview.jpg")
        assert preview.status_code == 200
        assert preview.headers["Content-Type"].startswith("image/")
    finally:
        for process in processes:
            kill_group(process)
        _drop(database_url)


def _is_sealed(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC
