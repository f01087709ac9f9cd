"""Jobs run in the worker command's own app: one app per worker process, not two."""

from __future__ import annotations

from flask import Flask

from workers import context


def test_a_job_inside_the_worker_commands_app_uses_that_app(app):
    other = Flask("another-app")
    context.set_app(other)  # what a lazily built app would be
    try:
        with app.app_context():
            with context.app_context() as used:
                assert used is app
        with context.app_context() as used:
            assert used is other  # outside a command's context: the process's own app
    finally:
        context.set_app(app)
