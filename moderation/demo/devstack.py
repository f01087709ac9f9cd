"""`make demo`: the whole system on one laptop, with embedded defaults.

Starts (or finds) Redis, migrates a fresh SQLite database under `.demo/` (in the current
directory), loads demo data, then runs a web server, a worker and the cron loop until Ctrl-C.
Redis is, in order of preference: MODERATION_REDIS_URL if set, a private `redis-server` on a free
port, or an in-process fake (fakeredis) with a loud warning, because it keeps nothing and is only
good enough to click around. The web port is DEMO_PORT, or 5000, or a free one when 5000 is taken;
the demo's environment is written to `.demo/env` so the `moderation` command can use it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from moderation.core.localservices import free_port, start_redis_server, wait_for_port

# Relative to where `make demo` runs (the checkout); the printed `. .demo/env` line relies on it.
DEMO_DIR = Path(".demo")
DEFAULT_PORT = 5000
ENV_FILE = "env"
# What the demo writes; a .demo/ holding anything else is not ours to delete.
DEMO_MARKERS = (ENV_FILE, "demo.sqlite3")


class DemoError(Exception):
    """The demo cannot start; the message is one sentence for the terminal."""


def port_in_use(port: int) -> bool:
    """True if something answers on 127.0.0.1:`port` or the port cannot be bound there."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return True
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def choose_port(environ: dict[str, str], default: int = DEFAULT_PORT) -> tuple[int, str | None]:
    """The web port and a notice to print, if any. An explicit DEMO_PORT that is taken is an
    error (DemoError) rather than a surprise elsewhere; a taken default moves to a free port."""
    explicit = environ.get("DEMO_PORT")
    if explicit:
        try:
            port = int(explicit)
        except ValueError:
            raise DemoError(f"DEMO_PORT={explicit!r} is not a port number") from None
        if port_in_use(port):
            raise DemoError(
                f"DEMO_PORT={port} is already in use by another program; choose another "
                "DEMO_PORT, or unset it to let the demo pick a free port"
            )
        return port, None
    if not port_in_use(default):
        return default, None
    port = free_port()
    return port, (
        f"* Port {default} is in use by another program (on macOS, often the AirPlay "
        f"receiver); serving on {port} instead (set DEMO_PORT to choose)"
    )


def reset_demo_dir(demo_dir: Path) -> None:
    """Empty `demo_dir` for a fresh start, refusing to delete a folder the demo did not make."""
    if demo_dir.exists():
        entries = {entry.name for entry in demo_dir.iterdir()}
        if entries and not entries & set(DEMO_MARKERS):
            raise DemoError(
                f"{demo_dir.resolve()} exists and was not made by the demo; move it away"
            )
        shutil.rmtree(demo_dir)  # every demo starts from a clean slate, with a fresh login
    demo_dir.mkdir()


def write_env_file(demo_dir: Path, env: dict[str, str]) -> Path:
    """`.demo/env`: the demo's MODERATION_* settings (and the virtualenv on PATH) as shell
    assignments, so `set -a; . .demo/env; set +a` points the `moderation` command at the demo."""
    lines = ["# Written by `make demo`; load it with: set -a; . .demo/env; set +a"]
    lines += [
        f"{key}={shlex.quote(value)}"
        for key, value in sorted(env.items())
        if key.startswith("MODERATION_")
    ]
    lines.append(f'PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"')
    path = demo_dir / ENV_FILE
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def wait_for_our_server(process: subprocess.Popen, port: int, timeout: float = 30.0) -> None:
    """Return once `process` serves our API on `port`; DemoError if it stopped or another
    program answers there (the port can be taken between the check and the start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoError(f"the web server stopped (is port {port} taken?); set DEMO_PORT")
        if wait_for_port(port, timeout=0.5):
            try:
                url = f"http://127.0.0.1:{port}/api/openapi.json"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    json.loads(answer.read())["openapi"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.2)
                continue
            if process.poll() is None:
                return
        time.sleep(0.2)
    raise DemoError(f"the web server did not answer on port {port} within {timeout:.0f} s")


def start_redis(processes: list[subprocess.Popen]) -> str:
    configured = os.environ.get("MODERATION_REDIS_URL")
    if configured:
        print(f"* Redis: using MODERATION_REDIS_URL ({configured.split('@')[-1]})")
        return configured

    try:
        data_dir = DEMO_DIR.resolve() / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        process, port = start_redis_server(data_dir, durable=True)
        processes.append(process)
        print(f"* Redis: private redis-server on 127.0.0.1:{port}")
        return f"redis://127.0.0.1:{port}/0"
    except (FileNotFoundError, RuntimeError):
        pass
    port = free_port()
    from fakeredis import TcpFakeServer

    fake = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    print(
        "!! WARNING: redis-server is not installed; using an embedded fake Redis that keeps\n"
        "!! nothing and is only for clicking around. Install redis-server for a real demo."
    )
    return f"redis://127.0.0.1:{port}/0"


def main() -> int:
    # Port and folder are settled before anything starts or prints: a demo that cannot serve
    # must never show a login for a server that is somebody else's.
    try:
        port, notice = choose_port(dict(os.environ))
        reset_demo_dir(DEMO_DIR)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if notice:
        print(notice)
    demo_dir = DEMO_DIR.resolve()
    processes: list[subprocess.Popen] = []
    env = dict(os.environ)
    env.setdefault("MODERATION_DATABASE_URL", f"sqlite:///{demo_dir / 'demo.sqlite3'}")
    env.setdefault("MODERATION_MEDIA_DIR", str(demo_dir / "media"))
    env.setdefault("MODERATION_BASE_URL", f"http://127.0.0.1:{port}")
    status = 0
    try:
        env["MODERATION_REDIS_URL"] = start_redis(processes)
        write_env_file(DEMO_DIR, env)
        command = [sys.executable, "-m", "moderation"]
        subprocess.run([*command, "db", "upgrade"], env=env, check=True)
        loaded = subprocess.run(
            [*command, "demo"], env=env, check=True, capture_output=True, text=True
        )
        summary = json.loads(loaded.stdout)
        # The logins and recovery codes, for the reader who needs them later (owner-only file).
        login_file = DEMO_DIR / "login.json"
        login_file.write_text(json.dumps(summary, indent=2), encoding="utf-8")
        login_file.chmod(0o600)
        # WARNING: at INFO the periodic jobs (every few seconds) would scroll the login below
        # out of sight; failures still show, and /dashboard/jobs shows every job.
        processes.append(subprocess.Popen([*command, "worker", "--log-level", "WARNING"], env=env))
        processes.append(subprocess.Popen([*command, "cron"], env=env))
        server = subprocess.Popen(
            [*command, "run", "--host", "127.0.0.1", "--port", str(port)], env=env
        )
        processes.append(server)
        wait_for_our_server(server, port)
        print(
            "\n================ moderation queue demo ================\n"
            f"  Open      http://127.0.0.1:{port}/\n"
            f"  Email     {summary['login']['email']}\n"
            f"  Password  {summary['login']['password']}\n"
            f"  2FA key   {summary['login'].get('totp_secret', '-')}\n"
            "            (add it to an authenticator app, or print the current code with\n"
            f'            {sys.executable} -c "import pyotp; print(pyotp.TOTP('
            f"'{summary['login'].get('totp_secret', '')}').now())\")\n"
            f"  Recovery  {', '.join(summary['login'].get('recovery_codes', [])[:2])} (first 2 of"
            f" {len(summary['login'].get('recovery_codes', []))}; in .demo/login.json)\n"
            f"  Reports   {len(summary['reports'])} synthetic reports are being triaged\n"
            f"  Case      {summary.get('case', '-')} (http://127.0.0.1:{port}/cases/); liaison\n"
            f"            {summary.get('liaison_login', {}).get('email', '-')} / "
            f"{summary.get('liaison_login', {}).get('password', '-')} (sets up 2FA at sign-in)\n"
            f"  Jobs      http://127.0.0.1:{port}/dashboard/jobs (the worker logs warnings only)\n"
            "  CLI       set -a; . .demo/env; set +a\n"
            "            (then e.g. moderation platform add acme --json, in this folder)\n"
            "  Stop      Ctrl-C\n"
            "=======================================================\n",
            flush=True,
        )
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        while all(process.poll() is None for process in processes):
            time.sleep(1)
        print("a demo process stopped; shutting down", file=sys.stderr)
        status = 1
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        status = 1
    except subprocess.CalledProcessError as exc:
        print(f"error: {shlex.join(exc.cmd[2:])} failed (exit {exc.returncode})", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        pass
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
