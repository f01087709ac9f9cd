"""The wheel is a working package: built from this tree, installed into a fresh virtualenv outside
the checkout, it migrates a database, serves a Korean page with its CSS and triages a report.

The wheel is built and installed once per module (a few seconds). Nothing is downloaded: the
wheel is built without build isolation from this interpreter's setuptools and babel, installed
with --no-deps, and the fresh virtualenv borrows the dependencies already installed here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis import Redis

from moderation.core.localservices import free_port, start_redis_server, wait_for_port
from tests.factories import make_image, report_body, signed_headers

pytestmark = pytest.mark.packaging

CHECKOUT = Path(__file__).resolve().parents[2]
# Everything that is not source: the wheel must be built from what a clone holds.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "instance",
    ".demo",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    "*.mo",
    "tests",
    "bench",
    ".hypothesis",
    ".pytest_cache",
    ".ruff_cache",
)


@dataclass
class Installed:
    venv: Path
    workdir: Path  # the cwd of every command: outside the checkout
    env: dict[str, str]

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def moderation(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.venv / "bin" / "moderation"), *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            **kwargs,
        )


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, **kwargs)
    assert result.returncode == 0, (
        f"{command[:4]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


@pytest.fixture(scope="module")
def redis_for_wheel(request: pytest.FixtureRequest) -> Iterator[str]:
    """A private redis-server, so no other test run's flush can take our jobs; the suite's Redis
    (flushed first) when redis-server is not installed."""
    workdir = Path(request.getfixturevalue("tmp_path_factory").mktemp("wheel-redis"))
    try:
        process, port = start_redis_server(workdir)
    except (FileNotFoundError, RuntimeError):
        url = request.getfixturevalue("redis_url")
        Redis.from_url(url).flushdb()
        yield url
        return
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, redis_for_wheel: str) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    shutil.copytree(CHECKOUT, source, ignore=NOT_SOURCE)
    wheels = base / "wheels"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--check-build-dependencies",
            "--quiet",
            "-w",
            str(wheels),
            str(source),
        ]
    )
    [wheel] = wheels.glob("moderation_queue-*.whl")

    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    target = venv / "bin" / "python"
    # Install before the dependencies become visible, so pip sees an empty environment and does
    # not compare our wheel with the editable moderation-queue of the test virtualenv.
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(target),
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            str(wheel),
        ]
    )

    # The dependencies: a .pth line naming this virtualenv's site-packages. A plain path line
    # only appends that folder to sys.path; Python runs .pth files only in site directories, so
    # the editable install's finder (__editable__*.pth there) never runs and the checkout stays
    # out of reach. The fresh site-packages comes first, so `moderation` is the wheel's.
    # (--system-site-packages would not help: the test virtualenv is not the system.)
    site_packages = Path(
        _run(
            [str(target), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
        ).stdout.strip()
    )
    dependency_dirs = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site_packages / "_test_dependencies.pth").write_text("\n".join(dependency_dirs) + "\n")

    workdir = base / "run"
    workdir.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MODERATION_", "FLASK_", "PYTHON")) and key != "VIRTUAL_ENV"
    }
    env.update(
        {
            "MODERATION_DATABASE_URL": f"sqlite:///{workdir / 'wheel.sqlite3'}",
            "MODERATION_REDIS_URL": redis_for_wheel,
            "MODERATION_MEDIA_DIR": str(workdir / "media"),
            "MODERATION_BANK_INDEX_DIR": str(workdir / "pdq-index"),
        }
    )
    return Installed(venv, workdir, env)


def test_the_installed_package_is_the_wheel_with_its_assets(installed: Installed) -> None:
    found = _run(
        [
            str(installed.python),
            "-c",
            "import json, moderation; from moderation.core.assets import assets_root; "
            "print(json.dumps([moderation.__file__, str(assets_root())]))",
        ],
        cwd=installed.workdir,
        env=installed.env,
    )
    module_file, assets = json.loads(found.stdout)
    assert Path(module_file).is_relative_to(installed.venv), module_file
    assert Path(assets).is_relative_to(installed.venv), assets
    root = Path(assets)
    for shipped in (
        "templates/base.html",
        "static/css/app.css",
        "alembic/env.py",
        "alembic/script.py.mako",
        "translations/core/ko/LC_MESSAGES/messages.mo",
    ):
        assert (root / shipped).is_file(), shipped
    assert list((root / "alembic" / "versions").glob("*.py"))


def test_the_wheel_migrates_serves_korean_with_css_and_triages(installed: Installed) -> None:
    upgraded = installed.moderation("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr[-3000:]
    added = installed.moderation("platform", "add", "acme", "--json")
    assert added.returncode == 0, added.stderr[-3000:]
    platform = json.loads(added.stdout)

    port = free_port()
    server_log = (installed.workdir / "server.log").open("wb")
    server = subprocess.Popen(
        [
            str(installed.venv / "bin" / "moderation"),
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=installed.workdir,
        env=installed.env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_for_port(port, timeout=30), "the installed server did not start"
        base = f"http://127.0.0.1:{port}"
        page = _get(f"{base}/login", headers={"Accept-Language": "ko"})
        assert "로그인" in page.text  # "Sign in", from the compiled catalogue in the wheel
        [stylesheet] = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.text)
        css = _get(base + stylesheet)
        assert css.headers["Content-Type"].startswith("text/css") and len(css.body) > 100

        raw = json.dumps(report_body([make_image(seed=14)])).encode()
        request = urllib.request.Request(
            f"{base}/api/v1/platforms/acme/reports",
            data=raw,
            method="POST",
            headers=signed_headers(platform["webhook_secret"], raw),
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 202
            report_id = json.loads(answer.read())["id"]

        worked = installed.moderation("worker", "--burst", "--log-level", "WARNING")
        assert worked.returncode == 0, worked.stderr[-3000:]
        status = json.loads(
            _get(
                f"{base}/api/v1/platforms/acme/reports/{report_id}",
                headers={"Authorization": f"Bearer {platform['api_token']}"},
            ).text
        )
        assert status["status"] == "queued", status
        [medium] = status["media"]
        assert medium["state"] == "hashed" and len(medium["sha256"]) == 64 and medium["pdq"]
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()


@dataclass
class _Answer:
    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode()


def _get(url: str, headers: dict[str, str] | None = None) -> _Answer:
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, headers=headers or {}), timeout=30
            ) as answer:
                assert answer.status == 200, url
                return _Answer(answer.read(), dict(answer.headers))
        except urllib.error.URLError as exc:
            # The port opens a moment before the first request is served.
            if isinstance(exc, urllib.error.HTTPError) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
