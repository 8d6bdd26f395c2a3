"""The dashboard's ApiClient against the real API app (uvicorn + PostgreSQL, demo data)."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from dashboard_support import ANALYST, DEMO_PASSWORD, VIEWER, logged_in_client

from spendlens_dashboard.api import ApiClient, ApiError, ApiUnreachable

JUNE = {"start_date": "2026-06-01", "end_date": "2026-06-30"}
EXPORT_COLUMNS = [
    "id",
    "occurred_at",
    "customer_id",
    "customer_name",
    "merchant",
    "category",
    "description",
    "quantity",
    "kind",
    "amount",
    "currency",
    "external_id",
]


class TestLogin:
    def test_demo_analyst_gets_a_token_and_profile(self, api_client: ApiClient):
        token = api_client.login(ANALYST, DEMO_PASSWORD)
        assert token["token_type"] == "bearer" and token["expires_in"] > 0
        assert api_client.token == token["access_token"]
        me = api_client.me()
        assert me["email"] == ANALYST
        assert me["role"] == "analyst"
        assert me["organization"]["name"] == "Acme Retail"
        assert me["organization"]["base_currency"] == "USD"

    def test_wrong_password_is_401_with_the_api_detail(self, api_client: ApiClient, create_user):
        user = create_user()
        with pytest.raises(ApiError) as caught:
            api_client.login(user.email, "not-the-password")
        assert caught.value.status == 401
        assert caught.value.detail == "Incorrect email or password"
        assert api_client.token is None

    def test_too_many_failures_lock_out_with_retry_after(self, api_client: ApiClient, create_user):
        user = create_user()
        statuses = []
        for _ in range(12):
            try:
                api_client.login(user.email, "wrong-password")
            except ApiError as error:
                statuses.append(error.status)
                if error.status == 429:
                    locked = error
                    break
        assert statuses[-1] == 429 and set(statuses[:-1]) == {401}
        assert locked.retry_after is not None and locked.retry_after > 0
        # Even the right password is refused while locked.
        with pytest.raises(ApiError) as caught:
            api_client.login(user.email, user.password)
        assert caught.value.status == 429

    def test_revoked_token_is_401(self, api_url: str, admin_client: ApiClient, create_user):
        user = create_user("analyst")
        client = logged_in_client(api_url, user.email, user.password)
        admin_client.update_user(user.id, role="viewer")  # a role change revokes tokens
        with pytest.raises(ApiError) as caught:
            client.me()
        assert caught.value.status == 401
        client.close()

    def test_unreachable_api_is_an_api_error_not_an_httpx_one(self):
        with ApiClient("http://127.0.0.1:9", timeout=2) as client:
            with pytest.raises(ApiUnreachable) as caught:
                client.login(ANALYST, DEMO_PASSWORD)
        assert caught.value.status is None
        assert "cannot be reached" in caught.value.message


class TestCatalog:
    def test_categories_and_all_merchants(self, analyst_client: ApiClient):
        categories = analyst_client.categories()
        assert {"Groceries", "Travel"} <= {c["category"] for c in categories}
        merchants = analyst_client.all_merchants()
        assert len(merchants) == analyst_client.merchants(limit=1)["total"]
        assert len({m["id"] for m in merchants}) == len(merchants)

    def test_merchant_search(self, analyst_client: ApiClient):
        page = analyst_client.merchants("fresh")
        assert page["items"] and all("fresh" in m["name"].lower() for m in page["items"])


class TestMetrics:
    def test_summary_with_change_against_previous_period(self, analyst_client: ApiClient):
        summary = analyst_client.metrics(JUNE)
        assert summary["period"] == {"start_date": "2026-06-01", "end_date": "2026-06-30"}
        assert summary["previous_period"]["end_date"] == "2026-05-31"
        assert summary["currency"] == "USD"
        assert float(summary["total_spend"]) > 0 and summary["transaction_count"] > 0
        assert set(summary["change"]) >= {"total_spend", "active_customers"}

    def test_filters_narrow_the_summary(self, analyst_client: ApiClient):
        everything = analyst_client.metrics(JUNE)
        travel = analyst_client.metrics({**JUNE, "category": ["Travel"]})
        assert 0 < travel["transaction_count"] < everything["transaction_count"]

    def test_timeseries_is_gapless_per_interval(self, analyst_client: ApiClient):
        days = analyst_client.timeseries(JUNE, interval="day")
        assert [p["period_start"] for p in days["points"]][:2] == ["2026-06-01", "2026-06-02"]
        assert len(days["points"]) == 30
        months = analyst_client.timeseries(
            {"start_date": "2025-07-01", "end_date": "2026-06-30"}, interval="month"
        )
        assert len(months["points"]) == 12

    def test_breakdown_top_n_and_other(self, analyst_client: ApiClient):
        merchants = analyst_client.breakdown(JUNE, by="merchant", top=5)
        assert len(merchants["items"]) == 5
        assert merchants["other"]["count"] > 0
        spends = [float(i["total_spend"]) for i in merchants["items"]]
        assert spends == sorted(spends, reverse=True)


class TestTransactions:
    def test_paging_is_consistent(self, analyst_client: ApiClient):
        first = analyst_client.list_transactions(JUNE, skip=0, limit=20)
        second = analyst_client.list_transactions(JUNE, skip=20, limit=20)
        both = analyst_client.list_transactions(JUNE, skip=0, limit=40)
        assert first["total"] == second["total"] == both["total"] > 40
        assert [t["id"] for t in first["items"] + second["items"]] == [
            t["id"] for t in both["items"]
        ]

    def test_sort_by_amount(self, analyst_client: ApiClient):
        page = analyst_client.list_transactions(JUNE, sort="-amount", limit=10)
        amounts = [float(t["amount"]) for t in page["items"]]
        assert amounts == sorted(amounts, reverse=True)

    def test_analyst_creates_edits_and_deletes(self, analyst_client: ApiClient):
        description = f"client test {uuid.uuid4().hex[:8]}"
        created = analyst_client.create_transaction(
            {
                "customer_id": 1,
                "occurred_at": "2026-06-30T12:00:00Z",
                "amount": "42.42",
                "category": "Groceries",
                "description": description,
            }
        )
        try:
            assert created["amount"] == "42.42" and created["currency"] == "USD"
            found = analyst_client.list_transactions({**JUNE, "q": description})
            assert [t["id"] for t in found["items"]] == [created["id"]]
            changed = analyst_client.update_transaction(created["id"], {"amount": "43.00"})
            assert changed["amount"] == "43.00"
        finally:
            analyst_client.delete_transaction(created["id"])
        with pytest.raises(ApiError) as caught:
            analyst_client.get_transaction(created["id"])
        assert caught.value.status == 404

    def test_viewer_may_not_write(self, api_url: str):
        viewer = logged_in_client(api_url, VIEWER)
        with pytest.raises(ApiError) as caught:
            viewer.create_transaction(
                {
                    "customer_id": 1,
                    "occurred_at": "2026-06-30T12:00:00Z",
                    "amount": "1.00",
                    "category": "Groceries",
                }
            )
        assert caught.value.status == 403
        viewer.close()

    def test_invalid_body_is_422_with_a_readable_message(self, analyst_client: ApiClient):
        with pytest.raises(ApiError) as caught:
            analyst_client.create_transaction(
                {
                    "customer_id": 1,
                    "occurred_at": "2026-06-30T12:00:00Z",
                    "amount": "-5.00",
                    "category": "Groceries",
                    "kind": "purchase",
                }
            )
        assert caught.value.status == 422
        assert "positive" in caught.value.message


class TestExport:
    def test_csv_has_the_columns_and_every_filtered_row(self, analyst_client: ApiClient):
        day = {"start_date": "2026-06-30", "end_date": "2026-06-30", "category": ["Travel"]}
        total = analyst_client.list_transactions(day, limit=1)["total"]
        text = analyst_client.export_transactions_csv_text(day, sort="-date")
        rows = list(csv.reader(io.StringIO(text)))
        header = rows[0]
        # The columns the dashboard's users rely on (the API may add more).
        assert header[0] == "id" and set(EXPORT_COLUMNS) <= set(header)
        assert len(rows) - 1 == total > 0
        assert {r[header.index("category")] for r in rows[1:]} == {"Travel"}

    def test_export_streams_in_chunks(self, analyst_client: ApiClient):
        size = 0
        with analyst_client.export_transactions_csv(JUNE) as chunks:
            for chunk in chunks:
                size += len(chunk)
        assert size > 100_000

    def test_export_without_token_is_401(self, api_client: ApiClient):
        with pytest.raises(ApiError) as caught:
            api_client.export_transactions_csv_text(JUNE)
        assert caught.value.status == 401
