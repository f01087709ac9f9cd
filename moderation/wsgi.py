"""WSGI entry point for production servers: `gunicorn moderation.wsgi:app`.

A WSGI server is how production runs, so this entry serves production unless MODERATION_ENV says
otherwise: a forgotten variable must not give development mode (no Secure cookies, no HSTS,
generated keys). Production then refuses to start without real secrets.
"""

import os

from moderation import create_app

# Read by create_app (the MODERATION_* environment layer), so set before it runs.
os.environ.setdefault("MODERATION_ENV", "production")
app = create_app()
