"""Liveness, readiness and Prometheus metrics, outside /api/v1 and without auth."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from spendlens.config import get_settings
from spendlens.db import get_engine
from spendlens.errors import ServiceUnavailable, error_responses

router = APIRouter(tags=["operations"])


@router.get("/livez")
def livez() -> dict[str, str]:
    """The process is up (does not touch the database)."""
    return {"status": "ok"}


@router.get("/readyz", responses=error_responses(503))
def readyz(engine: Annotated[Engine, Depends(get_engine)]) -> dict[str, str]:
    """The service can answer requests: the database is reachable."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        raise ServiceUnavailable(
            "Database unreachable", retry_after=get_settings().db_retry_after_seconds
        )
    return {"status": "ok", "database": "ok"}


@router.get("/metrics", response_class=Response)
def metrics() -> Response:
    """Prometheus metrics in the text exposition format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
