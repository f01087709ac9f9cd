"""The per-process app a job runs in: the app of the `moderation worker` command that runs the
job (its jobs run in-process, inside that command's app context), else one built lazily on
first use (so never across a fork)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, has_app_context

_app: Flask | None = None
_pid: int | None = None


def get_app() -> Flask:
    global _app, _pid
    if has_app_context():
        # The worker command's own app: building a second one would double the database
        # pool, the indexes and the model sessions of the process.
        return current_app._get_current_object()  # type: ignore[attr-defined]
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
