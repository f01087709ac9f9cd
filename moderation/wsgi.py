"""WSGI entry point for production servers: `gunicorn moderation.wsgi:app`."""

from moderation import create_app

app = create_app()
