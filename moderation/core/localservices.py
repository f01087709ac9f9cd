"""Starting throwaway local services for the demo, the test suite and the benches.

Not used by the app itself: production runs against operator-managed Redis and PostgreSQL.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> bool:
    """True once something accepts connections on 127.0.0.1:`port`, False after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def start_redis_server(
    directory: Path | str,
    *,
    durable: bool = False,
    port: int | None = None,
    options: Sequence[str] = (),
) -> tuple[subprocess.Popen, int]:
    """A private `redis-server` on a free loopback port (or `port`), ready to use; the caller
    stops it.

    Always `noeviction` (the only policy workers accept: any other may drop queued jobs);
    `durable` turns on AOF (the production settings, for the demo), otherwise it keeps nothing
    on disk. `options` are more command-line settings (e.g. `--maxmemory 2mb`). Raises
    FileNotFoundError if redis-server is not installed and RuntimeError if it does not come up.
    """
    server = shutil.which("redis-server")
    if server is None:
        raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
    port = free_port() if port is None else port
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(directory),
            "--appendonly",
            "yes" if durable else "no",
            "--maxmemory-policy",
            "noeviction",
            *options,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if not wait_for_port(port):
        process.terminate()
        raise RuntimeError("redis-server did not start")
    return process, port
