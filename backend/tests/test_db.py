"""The API's connections carry server-side time limits that jobs lift, and database trouble
(a busy pool, a query over its time limit, a lock wait, an unreachable server) answers 503 with
Retry-After rather than 500, also for a streamed export that has not started yet."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from spendlens.db import get_engine, lift_request_timeouts, make_engine
from spendlens.errors import install_error_handlers
from spendlens.kit.streaming import DatabaseStreamingResponse
from spendlens.testing import free_port


def show(conn, name: str) -> str:
    return conn.execute(text(f"SHOW {name}")).scalar_one()


class TestSessionLimits:
    def test_api_connections_have_statement_lock_and_idle_limits(self, app_engine: Engine):
        # The API's engine (tests that point the CLI at other databases make a new one).
        with get_engine().connect() as conn:
            assert show(conn, "statement_timeout") == "1min"
            assert show(conn, "lock_timeout") == "5s"
            assert show(conn, "idle_in_transaction_session_timeout") == "1min"

    def test_a_job_transaction_lifts_them_for_itself_only(self, app_engine: Engine):
        with app_engine.connect() as conn:
            with conn.begin():
                lift_request_timeouts(conn)
                assert show(conn, "statement_timeout") == "0"
                assert show(conn, "idle_in_transaction_session_timeout") == "0"
                assert show(conn, "lock_timeout") == "0"
            assert show(conn, "statement_timeout") == "1min"


@pytest.fixture
def tiny_pool(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    yield eng
    eng.dispose()


@pytest.fixture
def client(engine: Engine, tiny_pool: Engine, database_url: str) -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/slow")
    def slow() -> None:
        with engine.connect() as conn, conn.begin():
            conn.execute(text("SET LOCAL statement_timeout = 50"))
            conn.execute(text("SELECT pg_sleep(2)"))

    @app.get("/locked")
    def locked() -> None:
        with engine.connect() as holder, holder.begin():
            holder.execute(text("LOCK TABLE merchants IN ACCESS EXCLUSIVE MODE"))
            with engine.connect() as waiter, waiter.begin():
                waiter.execute(text("SET LOCAL lock_timeout = 50"))
                waiter.execute(text("SELECT count(*) FROM merchants"))

    @app.get("/pool-exhausted")
    def pool_exhausted() -> None:
        with tiny_pool.connect():
            with tiny_pool.connect():
                pass

    @app.get("/bad-sql")
    def bad_sql() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))

    unreachable = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/none")

    @app.get("/unreachable")
    def unreachable_route() -> None:
        with unreachable.connect():
            pass

    def rows_from(eng: Engine) -> Iterator[str]:
        yield "id\n"
        with eng.connect() as conn:
            for (value,) in conn.execute(text("SELECT generate_series(1, 3)")):
                yield f"{value}\n"

    @app.get("/export-unreachable.csv")
    def export_unreachable() -> DatabaseStreamingResponse:
        return DatabaseStreamingResponse(rows_from(unreachable), media_type="text/csv")

    @app.get("/export.csv")
    def export() -> DatabaseStreamingResponse:
        return DatabaseStreamingResponse(rows_from(engine), media_type="text/csv")

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    unreachable.dispose()


def assert_503(response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "ServiceUnavailable"
    assert int(response.headers["Retry-After"]) >= 1


class TestDatabaseErrors:
    def test_a_query_over_its_time_limit_answers_503(self, client):
        response = client.get("/slow")
        assert_503(response)
        assert "took longer" in response.json()["detail"]

    def test_a_lock_wait_over_its_limit_answers_503(self, client):
        assert_503(client.get("/locked"))

    def test_a_pool_timeout_answers_503(self, client):
        assert_503(client.get("/pool-exhausted"))

    def test_an_unreachable_database_answers_503(self, client):
        assert_503(client.get("/unreachable"))

    def test_a_bug_in_sql_is_still_a_500(self, client):
        response = client.get("/bad-sql")
        assert response.status_code == 500
        assert "Retry-After" not in response.headers


class TestDatabaseStreamingResponse:
    def test_an_export_whose_database_is_unreachable_answers_503_not_a_broken_200(self, client):
        assert_503(client.get("/export-unreachable.csv"))

    def test_an_export_streams_every_row(self, client):
        response = client.get("/export.csv")
        assert response.status_code == 200
        assert response.text == "id\n1\n2\n3\n"
