"""`make demo` (moderation.demo.devstack): never a login for somebody else's server, and the
environment file it writes points the `moderation` command at the demo."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from moderation.demo.devstack import DEFAULT_PORT, choose_port, port_in_use


@contextmanager
def listening(port: int = 0) -> Iterator[int]:
    """Somebody else's server: a socket listening on 127.0.0.1:`port` (0: any free port)."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", port))
        other.listen()
        yield other.getsockname()[1]


def _clean_env() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MODERATION_", "DEMO_", "FLASK_"))
    }


def test_a_taken_default_port_moves_to_a_free_one_and_says_so():
    with listening() as taken:
        port, notice = choose_port({}, default=taken)
        assert port != taken and not port_in_use(port)
        assert notice and str(taken) in notice and "DEMO_PORT" in notice


def test_a_taken_demo_port_fails_before_printing_anything(tmp_path):
    with listening() as taken:
        result = subprocess.run(
            [sys.executable, "-m", "moderation.demo.devstack"],
            cwd=tmp_path,
            env={**_clean_env(), "DEMO_PORT": str(taken)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"DEMO_PORT={taken}" in result.stderr and "in use" in result.stderr
    assert not (tmp_path / ".demo").exists()


def test_the_demo_refuses_to_delete_a_demo_folder_it_did_not_make(tmp_path):
    (tmp_path / ".demo").mkdir()
    (tmp_path / ".demo" / "notes.txt").write_text("mine")
    result = subprocess.run(
        [sys.executable, "-m", "moderation.demo.devstack"],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "not made by the demo" in result.stderr
    assert (tmp_path / ".demo" / "notes.txt").read_text() == "mine"


@contextmanager
def _default_port_taken() -> Iterator[None]:
    """Port 5000 held by another program for the duration (it may already be: then as it is)."""
    if port_in_use(DEFAULT_PORT):
        yield
        return
    with listening(DEFAULT_PORT):
        yield


def _lines(stream) -> queue.Queue:
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


def test_the_demo_serves_elsewhere_when_5000_is_taken_and_its_env_drives_the_cli(tmp_path):
    with _default_port_taken():
        demo = subprocess.Popen(
            [sys.executable, "-m", "moderation.demo.devstack"],
            cwd=tmp_path,
            env=_clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            lines = _lines(demo.stdout)
            printed: list[str] = []
            deadline = time.monotonic() + 120
            while not any("Ctrl-C" in line for line in printed):
                assert time.monotonic() < deadline and demo.poll() is None, "".join(printed)
                try:
                    printed.append(lines.get(timeout=1))
                except queue.Empty:
                    pass
            output = "".join(printed)
            [port] = re.findall(r"Open\s+http://127\.0\.0\.1:(\d+)/", output)
            assert int(port) != DEFAULT_PORT
            assert f"Port {DEFAULT_PORT} is in use" in output
            assert "set -a; . .demo/env; set +a" in output

            # The README's CLI step, in a shell that knows nothing but the printed line.
            cli = subprocess.run(
                ["bash", "-c", "set -a; . .demo/env; set +a; moderation platform add acme --json"],
                cwd=tmp_path,
                env={key: value for key, value in _clean_env().items() if key != "VIRTUAL_ENV"},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert cli.returncode == 0, cli.stderr[-2000:]
            assert json.loads(cli.stdout)["slug"] == "acme"
        finally:
            demo.send_signal(signal.SIGINT)
            try:
                exit_code = demo.wait(timeout=30)
            except subprocess.TimeoutExpired:
                demo.kill()
                raise
    assert exit_code == 0
    assert Path(tmp_path / ".demo" / "env").stat().st_mode & 0o077 == 0
