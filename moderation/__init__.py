"""The moderation queue's Flask application: `create_app()` wires config, extensions, blueprints,
error handlers and the CLI, and does nothing else (no connections, no migrations, no models)."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask


def _instance_path() -> str | None:
    """MODERATION_INSTANCE_PATH: this host's own folder (development secrets, the default
    SQLite file and PDQ index folders). Several hosts of one deployment each keep their own;
    nothing in it is shared. Unset: Flask's default, `instance/` beside the package."""
    configured = os.environ.get("MODERATION_INSTANCE_PATH")
    if configured and not os.path.isabs(configured):
        from moderation.config import ConfigurationError

        raise ConfigurationError("MODERATION_INSTANCE_PATH must be an absolute path")
    return configured or None


def _trust_proxies(app: Flask) -> None:
    """Behind PROXY_COUNT reverse proxies, take the client's address and scheme from the
    X-Forwarded-For/-Proto headers those proxies set (Werkzeug's ProxyFix); otherwise every
    client would share the proxy's address, and so one rate-limit budget. Only the last
    PROXY_COUNT entries are trusted: a client cannot spoof its way past them."""
    count = int(app.config["PROXY_COUNT"])
    if count < 0:
        from moderation.config import ConfigurationError

        raise ConfigurationError("MODERATION_PROXY_COUNT must be 0 or more")
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    from moderation.config import load_config
    from moderation.core.assets import asset_dir
    from moderation.core.db import db
    from moderation.core.errors import register_error_handlers
    from moderation.core.extensions import csrf, login_manager
    from moderation.core.i18n import init_i18n
    from moderation.core.ids import install_id_converter
    from moderation.core.limits import init_limiter
    from moderation.core.security_headers import register_security_headers
    from moderation.core.uploads import init_uploads
    from moderation.settings import init_settings

    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=_instance_path(),
        template_folder=str(asset_dir("templates")),
        static_folder=str(asset_dir("static")),
    )
    load_config(app, test_config)
    _trust_proxies(app)
    init_settings(app)
    # Before any blueprint: every `<int:...>` in a route is a bounded database id.
    install_id_converter(app)
    init_uploads(app)

    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    init_i18n(app)
    init_limiter(app)

    from moderation.views import api, auth, queue

    app.register_blueprint(auth.bp)
    from moderation.views import account, admin_users

    app.register_blueprint(account.bp)
    app.register_blueprint(admin_users.bp)
    app.register_blueprint(queue.bp)
    from moderation.views import dashboard, review

    app.register_blueprint(review.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(api.bp)
    # The API authenticates by signature or bearer token, not cookies: CSRF does not apply.
    csrf.exempt(api.bp)
    from moderation.intake import openapi
    from moderation.views import public

    app.register_blueprint(openapi.bp)
    # The public report portal (no login) stays CSRF-protected like every other page.
    app.register_blueprint(public.bp)
    from moderation.views import protect

    app.register_blueprint(protect.bp)  # /protect: victims register hashes, CSRF-protected
    from moderation.views import banks, callbacks, cases

    app.register_blueprint(banks.bp)
    app.register_blueprint(callbacks.bp)
    app.register_blueprint(cases.bp)
    from moderation.views import appeals, history, transparency

    app.register_blueprint(appeals.bp)
    app.register_blueprint(history.bp)
    app.register_blueprint(transparency.bp)

    from moderation.views import notifications

    app.register_blueprint(notifications.bp)

    register_error_handlers(app)
    register_security_headers(app)

    from moderation.cli.main import register_cli

    register_cli(app)
    return app
