"""Domain exceptions raised by services, and the one place they become HTTP answers."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A request the service refuses. `code` is machine-readable; the message is for people and
    must never contain media, URLs, names or contact data."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status


class ValidationError(DomainError):
    status = 422
    code = "invalid_report"


class AuthenticationError(DomainError):
    status = 401
    code = "unauthorized"


class ForbiddenError(DomainError):
    status = 403
    code = "forbidden"


class NotFoundError(DomainError):
    status = 404
    code = "not_found"


class ConflictError(DomainError):
    status = 409
    code = "conflict"


class ServiceUnavailableError(DomainError):
    status = 503
    code = "service_unavailable"


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, code: str, message: str) -> Response:
    if wants_json():
        response = jsonify({"error": code, "message": message})
    else:
        response = Response(
            render_template("error.html", status=status, message=message), mimetype="text/html"
        )
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = "30"
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> Response:
        return error_response(error.status, error.code, error.message)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        code = (error.name or "error").lower().replace(" ", "_")
        message = error.description or error.name
        response = error_response(error.code or 500, code, message)
        if error.code == 429 and error.response is not None:
            retry = error.response.headers.get("Retry-After")
            if retry:
                response.headers["Retry-After"] = retry
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_down(error: DBAPIError) -> Response:
        # Connection-level failures are an outage, not a bug: tell clients to come back.
        log.warning("database unavailable: %s", type(error.orig).__name__)
        return error_response(503, "database_unavailable", "The database is unavailable; retry.")

    @app.errorhandler(RedisError)
    def _redis_down(error: RedisError) -> Response:
        log.warning("redis unavailable: %s", type(error).__name__)
        return error_response(503, "queue_unavailable", "The job queue is unavailable; retry.")
