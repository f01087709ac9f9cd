"""Configuration layers, production refusals, and the two ways the app is served."""

from __future__ import annotations

import base64
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
STRONG_SECRET = "Zq3vT9xLw2Rk8NfY5bHc1mPjGs7dE4uA"


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
        ({"SECRET_KEY": STRONG_SECRET, "MEDIA_KEY": "bm90IDMyIGJ5dGVz"}, "32 bytes"),
        # Long enough but guessable (issue 10, finding 12).
        ({"SECRET_KEY": "a" * 32, "MEDIA_KEY": MEDIA_KEY}, "MODERATION_SECRET_KEY is too"),
        ({"SECRET_KEY": "abcd" * 10, "MEDIA_KEY": MEDIA_KEY}, "MODERATION_SECRET_KEY is too"),
        ({"SECRET_KEY": "ab12" * 8 + "xyz", "MEDIA_KEY": MEDIA_KEY}, "SECRET_KEY is too"),
        (
            {"SECRET_KEY": STRONG_SECRET, "MEDIA_KEY": base64.b64encode(bytes(32)).decode()},
            "MODERATION_MEDIA_KEY is not random",
        ),
        (
            {"SECRET_KEY": STRONG_SECRET, "MEDIA_KEY": base64.b64encode(b"k3y!" * 8).decode()},
            "MODERATION_MEDIA_KEY is not random",
        ),
    ],
)
def test_production_refuses_to_start_without_real_secrets(config, message, tmp_path):
    with pytest.raises(ConfigurationError, match=message):
        create_app({"ENV": "production", "DATABASE_URL": "sqlite://", **config})


def test_production_accepts_random_secrets():
    app = create_app(
        {
            "ENV": "production",
            "DATABASE_URL": "sqlite://",
            "SECRET_KEY": STRONG_SECRET,
            "MEDIA_KEY": base64.b64encode(os.urandom(32)).decode(),
            "EVIDENCE_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True


def _import_wsgi(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import moderation.wsgi as w; print(w.app.config['ENV'])"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_wsgi_entry_defaults_to_production_and_refuses_without_secrets(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in (
            "MODERATION_ENV",
            "MODERATION_SECRET_KEY",
            "MODERATION_MEDIA_KEY",
            "MODERATION_EVIDENCE_SIGNING_KEY",
        )
    }
    env["MODERATION_DATABASE_URL"] = f"sqlite:///{tmp_path / 'w.sqlite3'}"
    refused = _import_wsgi(env)
    assert refused.returncode != 0
    assert "ConfigurationError: production needs MODERATION_SECRET_KEY" in refused.stderr
    served = _import_wsgi(
        {
            **env,
            "MODERATION_SECRET_KEY": STRONG_SECRET,
            "MODERATION_MEDIA_KEY": MEDIA_KEY,
            "MODERATION_EVIDENCE_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
        }
    )
    assert served.stdout.strip() == "production", served.stderr[-2000:]
    # Development under a WSGI server only when asked for by name.
    explicit = _import_wsgi({**env, "MODERATION_ENV": "development"})
    assert explicit.stdout.strip() == "development", explicit.stderr[-2000:]


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
        # The WSGI entry serves production, which needs real secrets.
        env.update(
            MODERATION_SECRET_KEY=STRONG_SECRET,
            MODERATION_MEDIA_KEY=MEDIA_KEY,
            MODERATION_EVIDENCE_SIGNING_KEY=base64.b64encode(os.urandom(32)).decode(),
        )
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
