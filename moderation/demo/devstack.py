"""`make demo`: the whole system on one laptop, with embedded defaults.

Starts (or finds) Redis, migrates a fresh SQLite database under `.demo/`, loads demo data, then
runs a web server, a worker and the cron loop until Ctrl-C. Redis is, in order of preference:
MODERATION_REDIS_URL if set, a private `redis-server` on a free port, or an in-process fake
(fakeredis) with a loud warning, because it keeps nothing and is only good enough to click around.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from moderation.core.localservices import free_port, start_redis_server, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
DEMO_DIR = ROOT / ".demo"


def start_redis(processes: list[subprocess.Popen]) -> str:
    configured = os.environ.get("MODERATION_REDIS_URL")
    if configured:
        print(f"* Redis: using MODERATION_REDIS_URL ({configured.split('@')[-1]})")
        return configured

    try:
        data_dir = DEMO_DIR / "redis"
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
    port = int(os.environ.get("DEMO_PORT", "5000"))
    if DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)  # every demo starts from a clean slate, with a fresh login
    DEMO_DIR.mkdir()
    processes: list[subprocess.Popen] = []
    env = dict(os.environ)
    env.setdefault("MODERATION_DATABASE_URL", f"sqlite:///{DEMO_DIR / 'demo.sqlite3'}")
    env.setdefault("MODERATION_MEDIA_DIR", str(DEMO_DIR / "media"))
    env.setdefault("MODERATION_BASE_URL", f"http://127.0.0.1:{port}")
    try:
        env["MODERATION_REDIS_URL"] = start_redis(processes)
        command = [sys.executable, "-m", "moderation"]
        subprocess.run([*command, "db", "upgrade"], env=env, check=True)
        loaded = subprocess.run(
            [*command, "demo"], env=env, check=True, capture_output=True, text=True
        )
        summary = json.loads(loaded.stdout)
        # WARNING: at INFO the periodic jobs (every few seconds) would scroll the login below
        # out of sight; failures still show, and /dashboard/jobs shows every job.
        processes.append(subprocess.Popen([*command, "worker", "--log-level", "WARNING"], env=env))
        processes.append(subprocess.Popen([*command, "cron"], env=env))
        processes.append(
            subprocess.Popen([*command, "run", "--host", "127.0.0.1", "--port", str(port)], env=env)
        )
        wait_for_port(port)
        print(
            "\n================ moderation queue demo ================\n"
            f"  Open      http://127.0.0.1:{port}/\n"
            f"  Email     {summary['login']['email']}\n"
            f"  Password  {summary['login']['password']}\n"
            f"  2FA key   {summary['login'].get('totp_secret', '-')}\n"
            "            (add it to an authenticator app, or print the current code with\n"
            f'            {sys.executable} -c "import pyotp; print(pyotp.TOTP('
            f"'{summary['login'].get('totp_secret', '')}').now())\")\n"
            f"  Reports   {len(summary['reports'])} synthetic reports are being triaged\n"
            f"  Jobs      http://127.0.0.1:{port}/dashboard/jobs (the worker logs warnings only)\n"
            "  Stop      Ctrl-C\n"
            "=======================================================\n",
            flush=True,
        )
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        while all(process.poll() is None for process in processes):
            time.sleep(1)
        print("a demo process stopped; shutting down", file=sys.stderr)
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
