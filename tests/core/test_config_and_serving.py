"""Configuration layers, production refusals, and the two ways the app is served."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from moderation import create_app
from moderation.config import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]
MEDIA_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "config, message",
    [
        ({"MEDIA_KEY": MEDIA_KEY}, "MODERATION_SECRET_KEY"),
        ({"SECRET_KEY": "s" * 40}, "MODERATION_MEDIA_KEY"),
        ({"SECRET_KEY": "short", "MEDIA_KEY": MEDIA_KEY}, "at least 32"),
        ({"SECRET_KEY": "s" * 40, "MEDIA_KEY": "bm90IDMyIGJ5dGVz"}, "32 bytes"),
    ],
)
def test_production_refuses_to_start_without_real_secrets(config, message, tmp_path):
    with pytest.raises(ConfigurationError, match=message):
        create_app({"ENV": "production", "DATABASE_URL": "sqlite://", **config})


def test_development_generates_secrets_once_and_keeps_them(tmp_path, monkeypatch):
    monkeypatch.delenv("MODERATION_SECRET_KEY", raising=False)
    monkeypatch.delenv("MODERATION_MEDIA_KEY", raising=False)
    first = create_app({"DATABASE_URL": "sqlite://"})
    # The instance folder is the package's; generated keys are stable across app instances.
    second = create_app({"DATABASE_URL": "sqlite://"})
    assert first.config["MEDIA_KEY"] == second.config["MEDIA_KEY"]
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    secrets_file = Path(first.instance_path) / "dev-secrets.json"
    assert oct(secrets_file.stat().st_mode)[-3:] == "600"


def test_environment_overrides_defaults(monkeypatch):
    monkeypatch.setenv("MODERATION_MAX_MEDIA_PER_REPORT", "3")
    monkeypatch.setenv("MODERATION_DATABASE_URL", "sqlite:///:memory:")
    app = create_app()
    assert app.config["MAX_MEDIA_PER_REPORT"] == 3
    assert app.config["DATABASE_URL"] == "sqlite:///:memory:"


def _serve(command: list[str], env: dict[str, str], port: int) -> str:
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/openapi.json", timeout=2
                ) as answer:
                    return json.loads(answer.read())["openapi"]
            except OSError:
                if process.poll() is not None:
                    raise AssertionError(process.stderr.read().decode()[-2000:]) from None
                time.sleep(0.2)
        raise AssertionError("the server did not answer within 30 s")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("server", ["gunicorn", "moderation run"])
def test_gunicorn_and_moderation_run_serve_the_app(server, tmp_path, redis_url):
    port = _free_port()
    env = {
        **os.environ,
        "MODERATION_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "MODERATION_REDIS_URL": redis_url,
        "MODERATION_MEDIA_DIR": str(tmp_path / "media"),
    }
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [str(bin_dir / "moderation"), "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    if server == "gunicorn":
        command = [
            str(bin_dir / "gunicorn"),
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
            "moderation.wsgi:app",
        ]
    else:
        command = [str(bin_dir / "moderation"), "run", "--host", "127.0.0.1", "--port", str(port)]
    assert _serve(command, env, port).startswith("3.1")
