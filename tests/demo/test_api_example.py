"""docs/API_EXAMPLE.md's script, exactly as written there, sends a report a live server accepts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from moderation.core.localservices import free_port, wait_for_port

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "API_EXAMPLE.md"
MODERATION = str(Path(sys.executable).parent / "moderation")


def test_the_documented_example_request_is_accepted(tmp_path, redis_url):
    [script] = re.findall(r"```python\n(.*?)```", EXAMPLE.read_text(), flags=re.DOTALL)
    assert len(script.splitlines()) <= 20
    env = {key: value for key, value in os.environ.items() if not key.startswith("MODERATION_")}
    env.update(
        {
            "MODERATION_DATABASE_URL": f"sqlite:///{tmp_path / 'example.sqlite3'}",
            "MODERATION_REDIS_URL": redis_url,
            "MODERATION_MEDIA_DIR": str(tmp_path / "media"),
        }
    )

    def moderation(*args: str) -> str:
        done = subprocess.run(
            [MODERATION, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    moderation("db", "upgrade")
    platform = json.loads(moderation("platform", "add", "acme", "--json"))
    port = free_port()
    server = subprocess.Popen(
        [MODERATION, "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_port(port, timeout=30)
        base_url = f"http://127.0.0.1:{port}"
        sent = subprocess.run(
            [sys.executable, "-c", script],
            cwd=tmp_path,
            env={
                **env,
                "MODERATION_URL": base_url,
                "PLATFORM_SLUG": "acme",
                "WEBHOOK_SECRET": platform["webhook_secret"],
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sent.returncode == 0, sent.stderr[-2000:]
        status, _, answer = sent.stdout.strip().partition(" ")
        assert status == "202", sent.stdout
        accepted = json.loads(answer)
        assert accepted["status"] == "received"  # what the example's comment says
        report_id = accepted["id"]
        request = urllib.request.Request(
            f"{base_url}/api/v1/platforms/acme/reports/{report_id}",
            headers={"Authorization": f"Bearer {platform['api_token']}"},
        )
        with urllib.request.urlopen(request, timeout=10) as polled:
            assert json.loads(polled.read())["external_id"] == "post-123"
    finally:
        server.terminate()
        server.wait(timeout=10)
