"""Errors as HTTP answers: one status per error class (errors.py draws the tree), a JSON
body `{"detail": ...}`, and Retry-After when the database is away or a cap is reached."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from promiseline.errors import (
    BodyTooLargeError,
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    OrderError,
    PromiselineError,
    QuoteError,
    ScenarioError,
    StorageError,
    StudyTooLargeError,
    TooManyRequestsError,
    TransitionError,
    UnauthorizedError,
    UnknownOrderError,
)

log = logging.getLogger("promiseline.service")
RETRY_AFTER_S = 5
UNAVAILABLE = "the database is unavailable: nothing was stored; try again in a few seconds"
STATUS: tuple[tuple[type[PromiselineError], int], ...] = (
    (StorageError, 503),
    (UnauthorizedError, 401),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (UnknownOrderError, 404),
    (ConflictError, 409),
    (TransitionError, 409),
    (QuoteError, 409),
    (TooManyRequestsError, 429),
    (BodyTooLargeError, 413),
    (OrderError, 422),
    (ScenarioError, 422),
    (InvalidRequestError, 422),
    (StudyTooLargeError, 422),
)


def answer(e: PromiselineError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) for an error. A storage failure is told without naming the
    database (that goes to the log, for the operator)."""
    status = next((code for cls, code in STATUS if isinstance(e, cls)), 400)
    wait = getattr(e, "retry_after_s", RETRY_AFTER_S)  # a client's rate says its own
    headers = {"Retry-After": str(wait)} if status in (503, 429) else {}
    body: dict[str, Any] = {"detail": str(e)}
    if isinstance(e, StorageError):
        log.warning("%s", e)
        body["detail"] = UNAVAILABLE
    if isinstance(e, ScenarioError) and len(e.problems) > 1:
        body["problems"] = [f"{e.source}: {p}" for p in e.problems]
    return status, body, headers


async def on_error(_: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, PromiselineError)
    status, body, headers = answer(e)
    return JSONResponse(body, status_code=status, headers=headers)


async def on_invalid(_: Request, e: Exception) -> JSONResponse:
    """422 naming each bad field; the input is not echoed (it may be huge or binary)."""
    assert isinstance(e, RequestValidationError)
    detail = [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg")), "type": err.get("type")}
        for err in e.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)
