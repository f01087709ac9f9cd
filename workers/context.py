"""The per-process app a job runs in, built lazily on first use (so never across a fork)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

_app: Flask | None = None
_pid: int | None = None


def get_app() -> Flask:
    global _app, _pid
    if _app is None or _pid != os.getpid():
        from moderation import create_app

        _app, _pid = create_app(), os.getpid()
    return _app


def set_app(app: Flask) -> None:
    """Use `app` for jobs in this process (the worker command and tests pass theirs in)."""
    global _app, _pid
    _app, _pid = app, os.getpid()


@contextmanager
def app_context() -> Iterator[Flask]:
    app = get_app()
    with app.app_context():
        yield app
