"""Database engine, the request session that commits on success and rolls back on error, and the
admission gates that keep requests from waiting for a connection while holding a thread.

Why the gates exist (see README, "Concurrency and the database"): sync dependencies and routes
run on AnyIO's thread pool. Without a limit in the event loop, more requests than pooled
connections take threads, some check out every connection, the others block in the pool while
holding the threads the connection holders need next: the API stalls until the pool times out.
A request therefore takes a slot of `request_gate` in the event loop (no thread, no connection
yet) before its session may touch the database, and a streamed export a slot of `stream_gate`
before it opens its cursor. The pool is larger than both gates together, so a request that got
a slot never waits for a connection, and the thread pool is larger too, so it never waits for a
thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from functools import lru_cache
from typing import Annotated

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from fastapi import Depends
from sqlalchemy import URL, Connection, Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from spendlens.config import Settings, get_settings, normalize_database_url
from spendlens.errors import ServiceUnavailable


def make_engine(
    url: str | URL,
    *,
    pool_size: int = 5,
    max_overflow: int | None = None,
    pool_timeout: float = 30.0,
    options: str | None = None,
) -> Engine:
    """An engine over psycopg2; `options` are libpq server options (`-c name=value ...`)."""
    if isinstance(url, URL):
        url = url.render_as_string(hide_password=False)
    connect_args: dict[str, object] = {"connect_timeout": 3}
    if options:
        connect_args["options"] = options
    return create_engine(
        normalize_database_url(url),
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,  # a connection broken while the database was away is replaced
        pool_recycle=1800,
        connect_args=connect_args,
    )


def _milliseconds(seconds: float) -> int:
    return round(seconds * 1000)


def api_session_options(settings: Settings) -> str:
    """Server-side limits of every API connection, so no request holds a lock, a snapshot or a
    connection much longer than it should: a runaway query is cancelled, a lock wait gives up,
    and a transaction left idle (a client that stopped reading a cursor) is ended by the server."""
    limits = {
        "statement_timeout": settings.db_statement_timeout_seconds,
        "lock_timeout": settings.db_lock_timeout_seconds,
        "idle_in_transaction_session_timeout": settings.db_idle_in_transaction_timeout_seconds,
    }
    return " ".join(f"-c {name}={_milliseconds(value)}" for name, value in limits.items())


@lru_cache
def get_engine() -> Engine:
    """The application role's engine (row-level security applies: see spendlens.tenancy)."""
    settings = get_settings()
    return make_engine(
        settings.app_sqlalchemy_url,
        pool_size=settings.db_pool_size,
        # Room for every gated request to hold two connections at once, plus every stream:
        # an admitted request never waits in the pool.
        max_overflow=settings.db_pool_size + settings.db_stream_slots,
        pool_timeout=settings.db_pool_timeout_seconds,
        options=api_session_options(settings),
    )


def lift_request_timeouts(conn: Connection) -> None:
    """Lift the API's statement, lock and idle-in-transaction limits for the rest of `conn`'s
    transaction: a background job (a 1M-row import, RFM over 10M rows, a CLV fit that computes
    in Python between statements) legitimately runs longer than any request should."""
    conn.execute(
        text(
            "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0; "
            "SET LOCAL idle_in_transaction_session_timeout = 0"
        )
    )


@contextmanager
def background_transaction(engine: Engine | None = None) -> Iterator[Connection]:
    """A transaction for work outside any request (the worker's periodic tasks, the CLI), without
    the API's time limits; committed when the block ends, rolled back if it raises."""
    with (engine or get_engine()).begin() as conn:
        lift_request_timeouts(conn)
        yield conn


def owner_engine() -> Engine:
    """An engine of the tables' owner (which bypasses row-level security) without the API's
    time limits, for deployment work: the demo seed (loading organisations, ANALYZE)."""
    return make_engine(get_settings().sqlalchemy_url, pool_size=2)


class DatabaseBusy(ServiceUnavailable):
    """Every database slot stayed busy for longer than the admission timeout."""


class AdmissionGate:
    """At most `size(settings)` holders at once, waited for in the event loop.

    One semaphore per event loop (AnyIO's RunVar), because test clients run each app on loops of
    their own; the first use on a loop also sizes that loop's thread pool above every gate.
    """

    def __init__(self, name: str, size: Callable[[Settings], int]) -> None:
        self.name = name
        self._size = size
        self._semaphores: RunVar[anyio.Semaphore] = RunVar(f"spendlens_gate_{name}")

    def _semaphore(self, settings: Settings) -> anyio.Semaphore:
        try:
            return self._semaphores.get()
        except LookupError:
            semaphore = anyio.Semaphore(self._size(settings))
            self._semaphores.set(semaphore)
            size_thread_pool(settings)
            return semaphore

    def available(self) -> int:
        """Free slots on the current loop (for tests and diagnostics)."""
        return self._semaphore(get_settings()).value

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        settings = get_settings()
        semaphore = self._semaphore(settings)
        with anyio.move_on_after(settings.db_admission_timeout_seconds) as waited:
            await semaphore.acquire()
        if waited.cancelled_caught:
            raise DatabaseBusy(
                "The service is busy; retry shortly",
                retry_after=settings.db_retry_after_seconds,
            )
        try:
            yield
        finally:
            semaphore.release()


def size_thread_pool(settings: Settings) -> None:
    """Give the running loop's thread pool more threads than the gates have slots, so a request
    holding a connection always finds a thread (the default of 40 would do for the default
    sizes; this keeps it true when the pool is configured larger)."""
    limiter = anyio.to_thread.current_default_thread_limiter()
    needed = settings.db_pool_size + settings.db_stream_slots + 16
    if limiter.total_tokens < needed:
        limiter.total_tokens = needed


request_gate = AdmissionGate("requests", lambda s: s.db_pool_size)
stream_gate = AdmissionGate("streams", lambda s: s.db_stream_slots)


async def admit_request() -> AsyncIterator[None]:
    """Holds a slot of `request_gate` while the route's session is open (taken before any
    thread or connection is; released when the session has committed or rolled back)."""
    async with request_gate.slot():
        yield


def get_session(
    _admitted: Annotated[None, Depends(admit_request, scope="function")],
) -> Iterator[Session]:
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
    """Opens a connection of its own for a streamed response, which outlives the request session.

    Use it inside a `DatabaseStreamingResponse` (spendlens.kit.streaming), which takes a slot of
    `stream_gate` first and closes the connection when the client goes away or stalls. The
    generator sets the organisation on it first (`spendlens.tenancy.set_org`)."""
    return get_engine().connect


StreamConnectionDep = Annotated[
    Callable[[], AbstractContextManager[Connection]], Depends(get_stream_connection)
]


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    """Sessions for work outside a request (CLI, seeding, jobs)."""
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False)
