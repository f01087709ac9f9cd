"""Reports decided through the real services, and a callback receiver on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from models import Report
from moderation.core.db import db
from moderation.review import decisions, finalize
from tests.factories import make_user


@dataclass
class Receiver:
    """Answers the statuses in `script` in turn (then 200), recording every request."""

    script: list[int] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    retry_after: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/moderation"


@contextmanager
def receiver(script: list[int] | None = None) -> Iterator[Receiver]:
    state = Receiver(script=list(script or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server interface
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.seen.append(
                {"path": self.path, "headers": dict(self.headers.items()), "body": body}
            )
            status = state.script.pop(0) if state.script else 200
            self.send_response(status)
            if state.retry_after and status >= 500:
                self.send_header("Retry-After", state.retry_after)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def decide(app, report_id: int, action: str, email: str = "mod@example.org") -> int:
    """Decide through the decision service with no undo window and make it final; returns the
    deciding user's id."""
    from sqlalchemy import select

    from models import User

    with app.app_context():
        user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
        user_id = user.id if user else None
    if user_id is None:
        user_id = make_user(app, email)
    with app.app_context():
        report = db.session.get(Report, report_id)
        decisions.decide(db.session, report, user_id, decisions.DecisionInput(action), 0, 5)
        finalize.finalize_due(db.session)
    return user_id


def payload(request: dict[str, Any]) -> dict[str, Any]:
    return json.loads(request["body"])
