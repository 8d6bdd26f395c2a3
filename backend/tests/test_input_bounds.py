"""Days and times are accepted between 1900-01-01 and 2100-12-31 everywhere they come in (queries,
bodies, import files), and an import may not store text longer than the API accepts: the cases
that answered 500 or made GET /customers/{id} return megabytes now answer 422 or a row problem."""

from __future__ import annotations

import pytest

from spendlens.kit.dates import EARLIEST_DAY, LATEST_DAY
from spendlens.models.rules import DESCRIPTION_LENGTH
from tests.builders import create_customer, create_org, create_user, headers_for
from tests.imports.helpers import upload


@pytest.fixture
def shop(session):
    org = create_org(session)
    return org, headers_for(create_user(session, org, role="analyst"))


def _invalid(response, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "ValidationError"
    assert body["detail"][0]["loc"][-1] == field, body


class TestApiTimes:
    @pytest.mark.parametrize(
        "occurred_at",
        ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+14:00", "1899-12-31T23:59:59Z"],
    )
    def test_a_transaction_time_out_of_range_is_422(self, client, session, shop, occurred_at):
        org, headers = shop
        customer = create_customer(session, org)
        body = {
            "customer_id": customer.id,
            "occurred_at": occurred_at,
            "amount": "10.00",
            "category": "Books",
        }
        _invalid(client.post("/api/v1/transactions", json=body, headers=headers), "occurred_at")

    def test_the_last_and_first_accepted_days_are_accepted(self, client, session, shop):
        org, headers = shop
        customer = create_customer(session, org)
        for occurred_at in (f"{EARLIEST_DAY}T00:00:00Z", f"{LATEST_DAY}T23:59:59Z"):
            body = {
                "customer_id": customer.id,
                "occurred_at": occurred_at,
                "amount": "10.00",
                "category": "Books",
            }
            response = client.post("/api/v1/transactions", json=body, headers=headers)
            assert response.status_code == 201, response.text

    @pytest.mark.parametrize(
        "path,name",
        [
            ("/api/v1/transactions", "start_date"),
            ("/api/v1/metrics", "end_date"),
            ("/api/v1/metrics/timeseries", "start_date"),
            ("/api/v1/customers", "signup_from"),
            ("/api/v1/cohorts", "start"),
            ("/api/v1/segments", "as_of"),
        ],
    )
    @pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1899-12-31", "2101-01-01"])
    def test_query_days_out_of_range_are_422(self, client, shop, path, name, day):
        _, headers = shop
        _invalid(client.get(path, params={name: day}, headers=headers), name)

    def test_a_signup_date_out_of_range_is_422(self, client, shop):
        _, headers = shop
        body = {"name": "Old", "signup_date": "0001-01-01"}
        _invalid(client.post("/api/v1/customers", json=body, headers=headers), "signup_date")


def problems(client, headers, content: str, kind: str) -> list[tuple[int, str, str]]:
    body = upload(client, headers, content, kind=kind, dry_run=True).json()
    return [(p["row"], p["column"], p["reason"]) for p in body["errors"]]


class TestImports:
    HEADER = "occurred_at,customer_external_id,category,amount,description\n"

    def test_times_out_of_range_are_row_problems(self, client, shop):
        _, headers = shop
        content = self.HEADER + (
            "2026-01-05T10:00:00Z,c1,Books,12.00,ok\n"
            "0001-01-01T00:00:00Z,c1,Books,12.00,year one\n"
            "9999-12-31T23:00:00-05:00,c1,Books,12.00,year 9999\n"
            f"{LATEST_DAY}T23:59:00Z,c1,Books,12.00,last day\n"
        )
        reason = f"not between {EARLIEST_DAY} and {LATEST_DAY}"
        found = problems(client, headers, content, "transactions")
        assert [(row, column) for row, column, _ in found] == [
            (2, "occurred_at"),
            (3, "occurred_at"),
        ]
        assert all(reason in text for _, _, text in found)

    def test_a_description_longer_than_the_api_allows_is_a_row_problem(self, client, shop):
        _, headers = shop
        content = self.HEADER + (
            f"2026-01-05T10:00:00Z,c1,Books,12.00,{'d' * DESCRIPTION_LENGTH}\n"
            f"2026-01-05T10:00:00Z,c1,Books,12.00,{'e' * (DESCRIPTION_LENGTH + 1)}\n"
        )
        assert problems(client, headers, content, "transactions") == [
            (2, "description", f"longer than {DESCRIPTION_LENGTH} characters")
        ]

    def test_signup_days_out_of_range_are_row_problems(self, client, shop):
        _, headers = shop
        content = "external_id,name,signup_date\nc1,Ann,2020-01-01\nc2,Bob,0001-01-01\n"
        found = problems(client, headers, content, "customers")
        assert [(row, column) for row, column, _ in found] == [(2, "signup_date")]
