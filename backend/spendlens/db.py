"""Database engine and the request session that commits on success and rolls back on error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Annotated

from fastapi import Depends
from sqlalchemy import URL, Connection, Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from spendlens.config import get_settings, normalize_database_url


def make_engine(url: str | URL, *, pool_size: int = 5) -> Engine:
    if isinstance(url, URL):
        url = url.render_as_string(hide_password=False)
    return create_engine(
        normalize_database_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,  # a connection broken while the database was away is replaced
        pool_recycle=1800,
        connect_args={"connect_timeout": 3},
    )


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    return make_engine(settings.sqlalchemy_url, pool_size=settings.db_pool_size)


def get_session() -> Iterator[Session]:
    """One session per request: committed when the route succeeds, rolled back when it raises.

    Services only flush; this dependency owns the transaction.
    """
    session = Session(bind=get_engine(), expire_on_commit=False, autoflush=True)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": commit before the response is sent, so a failed commit never looks like success.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_stream_connection() -> Callable[[], AbstractContextManager[Connection]]:
    """Opens a connection of its own for a streamed response, which outlives the request session."""
    return get_engine().connect


StreamConnectionDep = Annotated[
    Callable[[], AbstractContextManager[Connection]], Depends(get_stream_connection)
]


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    """Sessions for work outside a request (CLI, seeding, jobs)."""
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False)
