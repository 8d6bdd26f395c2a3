"""One error family for the service and the handlers that render it as `{"error", "detail"}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from spendlens.config import get_settings

logger = logging.getLogger("spendlens.errors")

UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"


class AppError(Exception):
    status_code = 500
    error = "InternalError"

    def __init__(self, detail: Any = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail if detail is not None else self.__class__.__doc__
        self.headers = headers


class BadRequest(AppError):
    """The request cannot be processed."""

    status_code = 400
    error = "BadRequest"


class Unauthorized(AppError):
    """Not authenticated."""

    status_code = 401
    error = "Unauthorized"

    def __init__(self, detail: Any = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    """Your role does not allow this."""

    status_code = 403
    error = "Forbidden"


class NotFound(AppError):
    """Not found."""

    status_code = 404
    error = "NotFound"


class Conflict(AppError):
    """The request conflicts with existing data."""

    status_code = 409
    error = "Conflict"


class PayloadTooLarge(AppError):
    """The request body is larger than allowed."""

    status_code = 413
    error = "PayloadTooLarge"


class Unprocessable(AppError):
    """The request is well-formed but its values are not valid."""

    status_code = 422
    error = "ValidationError"

    def __init__(self, msg: str, *, loc: tuple[str, ...] = ()) -> None:
        super().__init__([{"loc": list(loc), "msg": msg, "type": "value_error"}])


class TooManyRequests(AppError):
    """Too many requests."""

    status_code = 429
    error = "TooManyRequests"

    def __init__(self, detail: Any = None, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(AppError):
    """A dependency of the service is unavailable."""

    status_code = 503
    error = "ServiceUnavailable"

    def __init__(self, detail: Any = None, *, retry_after: int | None = None) -> None:
        headers = None if retry_after is None else {"Retry-After": str(max(1, retry_after))}
        super().__init__(detail, headers=headers)


def error_body(error: str, detail: Any) -> dict[str, Any]:
    return {"error": error, "detail": detail}


class ErrorSchema(BaseModel):
    """The body of every error response."""

    error: str
    detail: Any = None


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the given error statuses, all in the one error shape."""
    descriptions = {
        400: "Bad request",
        401: "Missing, invalid or expired token",
        403: "The caller's role does not allow this",
        404: "Not found (or belongs to another organisation)",
        409: "Conflicts with existing data",
        413: "Payload too large",
        422: "Invalid parameters or body",
        429: "Too many requests",
        503: "A dependency is unavailable",
    }
    return {
        status: {"model": ErrorSchema, "description": descriptions.get(status, "Error")}
        for status in statuses
    }


# SQLSTATEs that say "the database cannot serve this now, the same request may work later":
# connection exceptions (class 08), insufficient resources (53: too many connections, out of
# memory or disk), operator intervention (57: shutdown, crash recovery, cancelled by a
# statement_timeout), lock_timeout (55P03), and serialization failures and deadlocks (40001,
# 40P01) that only a retry resolves.
_TRANSIENT_CLASSES = ("08", "53", "57")
_TRANSIENT_CODES = {"55P03", "40001", "40P01", "25P03"}
QUERY_CANCELED = "57014"


def database_unavailable(exc: BaseException) -> str | None:
    """Why `exc` means the database is unreachable, overloaded or timed out (the detail of a
    503), or None when it is a real error of the request or the code (a 500)."""
    if isinstance(exc, PoolTimeoutError):
        return "Every database connection is busy; retry shortly"
    if not isinstance(exc, DBAPIError):
        return None
    code = getattr(exc.orig, "pgcode", None)
    if code == QUERY_CANCELED:
        return "The query took longer than the service allows; narrow the filters or retry later"
    if code in _TRANSIENT_CODES or (code and code[:2] in _TRANSIENT_CLASSES):
        return "The database is busy or restarting; retry shortly"
    # Without a SQLSTATE, a DBAPI error means the server never answered: it refused the
    # connection, or the connection broke (SQLAlchemy then flags it as invalidated).
    if exc.connection_invalidated or (code is None and isinstance(exc, OperationalError)):
        return "The database is unreachable; retry shortly"
    return None


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        item = {"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
        details.append(item)
    return details


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.error, exc.detail), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            error_body("ValidationError", _validation_details(exc)), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {404: "NotFound", 405: "MethodNotAllowed", 401: "Unauthorized"}
        return JSONResponse(
            error_body(names.get(exc.status_code, "HTTPError"), exc.detail),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(IntegrityError)
    async def _integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        # Pre-checks in services give the friendly message; this covers the race where two
        # requests pass the check at once and the database's constraint decides.
        code = getattr(exc.orig, "pgcode", None)
        if code == UNIQUE_VIOLATION:
            return JSONResponse(
                error_body("Conflict", "A row with the same unique key already exists"),
                status_code=409,
            )
        if code == FOREIGN_KEY_VIOLATION:
            return JSONResponse(
                error_body("Conflict", "The row is referenced by, or references, other rows"),
                status_code=409,
            )
        logger.exception("integrity error", extra={"path": request.url.path})
        return JSONResponse(
            error_body("InternalError", "An unexpected error occurred"), status_code=500
        )

    @app.exception_handler(PoolTimeoutError)
    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: Exception) -> JSONResponse:
        detail = database_unavailable(exc)
        if detail is None:
            logger.exception("database error", extra={"path": request.url.path})
            return JSONResponse(
                error_body("InternalError", "An unexpected error occurred"), status_code=500
            )
        logger.warning(
            "database unavailable: %s", type(exc).__name__, extra={"path": request.url.path}
        )
        retry_after = str(get_settings().db_retry_after_seconds)
        return JSONResponse(
            error_body("ServiceUnavailable", detail),
            status_code=503,
            headers={"Retry-After": retry_after},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"path": request.url.path})
        return JSONResponse(
            error_body("InternalError", "An unexpected error occurred"), status_code=500
        )
