"""Errors keep one JSON shape, including constraint violations that slip past service checks."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from spendlens.errors import install_error_handlers


@pytest.fixture
def raising_app(engine):
    """A tiny app whose routes break real constraints in a real database."""
    app = FastAPI()
    install_error_handlers(app)

    def run(sql: str) -> None:
        with engine.connect() as conn:
            with conn.begin():
                conn.execute(
                    text("CREATE TEMP TABLE t (id int PRIMARY KEY, ck int CHECK (ck > 0))")
                )
                conn.execute(text(sql))

    @app.get("/duplicate")
    def duplicate() -> None:
        run("INSERT INTO t VALUES (1, 1), (1, 1)")

    @app.get("/dangling")
    def dangling() -> None:
        run("INSERT INTO transactions (org_id, customer_id, occurred_at, amount, currency, "
            "category, description, quantity, kind) VALUES (-1, -1, now(), 1, 'USD', 'x', '', 1, "
            "'purchase')")  # fmt: skip

    @app.get("/check")
    def check() -> None:
        run("INSERT INTO t VALUES (1, -5)")

    return TestClient(app, raise_server_exceptions=False)


def test_unique_violation_is_409(raising_app):
    response = raising_app.get("/duplicate")
    assert response.status_code == 409
    assert response.json()["error"] == "Conflict"


def test_foreign_key_violation_is_409(raising_app):
    response = raising_app.get("/dangling")
    assert response.status_code == 409


def test_other_integrity_errors_are_a_json_500_without_internals(raising_app):
    response = raising_app.get("/check")
    assert response.status_code == 500
    assert response.json() == {"error": "InternalError", "detail": "An unexpected error occurred"}
