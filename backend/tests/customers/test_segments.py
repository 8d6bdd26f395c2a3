"""Customers and RFM: the list filters by segment of the latest stored snapshot (equal to the
independent computation), the detail shows the customer's RFM from it or null, and another
organisation's snapshot never leaks in."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from spendlens.testing import DEMO_AS_OF
from tests.builders import create_customer, create_org, create_transaction, create_user, headers_for
from tests.segments import reference
from tests.segments.helpers import fetch_all, store

CUSTOMERS = "/api/v1/customers"


@pytest.fixture(scope="module")
def acme_ref(engine) -> reference.Org:
    with engine.connect() as conn:
        return reference.read_org_by_slug(conn, "acme-retail")


class TestSegmentFilter:
    def test_lists_the_customers_of_the_segments_in_the_latest_snapshot(
        self, client, connection, demo, acme_ref, auth_headers
    ):
        store(connection, demo.acme.id, date(2025, 12, 31))
        store(connection, demo.acme.id, DEMO_AS_OF)  # the latest: this one counts
        headers = auth_headers("viewer@acme.example")
        expected = reference.rfm(acme_ref, DEMO_AS_OF)
        for segments in (["champions"], ["at_risk", "cant_lose_them", "lost"]):
            items = fetch_all(client, headers, CUSTOMERS, {"segment": segments})
            wanted = {c for c, r in expected.items() if r.segment in segments}
            assert {i["id"] for i in items} == wanted and wanted

    def test_combines_with_the_other_filters(self, client, connection, demo, auth_headers):
        store(connection, demo.acme.id, DEMO_AS_OF)
        headers = auth_headers("viewer@acme.example")
        both = fetch_all(
            client, headers, CUSTOMERS, {"segment": "loyal", "lifecycle_stage": "churned"}
        )
        loyal = {i["id"] for i in fetch_all(client, headers, CUSTOMERS, {"segment": "loyal"})}
        churned = {
            i["id"] for i in fetch_all(client, headers, CUSTOMERS, {"lifecycle_stage": "churned"})
        }
        assert {i["id"] for i in both} == loyal & churned

    def test_without_a_snapshot_nobody_matches(self, client, auth_headers):
        response = client.get(
            CUSTOMERS, params={"segment": "champions"}, headers=auth_headers("viewer@acme.example")
        )
        assert response.status_code == 200 and response.json()["total"] == 0

    def test_another_organisations_snapshot_is_not_used(self, client, connection, session, demo):
        store(connection, demo.acme.id, DEMO_AS_OF)
        org = create_org(session)
        customer = create_customer(session, org)
        create_transaction(session, org, customer)
        headers = headers_for(create_user(session, org, role="viewer"))
        body = client.get(CUSTOMERS, params={"segment": "champions"}, headers=headers).json()
        assert body["total"] == 0

    def test_unknown_segment_is_422(self, client, auth_headers):
        response = client.get(
            CUSTOMERS, params={"segment": "vip"}, headers=auth_headers("viewer@acme.example")
        )
        assert response.status_code == 422 and response.json()["error"] == "ValidationError"


class TestDetailRfm:
    def test_shows_the_customers_rfm_in_the_latest_snapshot(
        self, client, connection, demo, acme_ref, auth_headers
    ):
        store(connection, demo.acme.id, date(2025, 12, 31))
        store(connection, demo.acme.id, DEMO_AS_OF)
        expected = reference.rfm(acme_ref, DEMO_AS_OF)
        customer_id, rfm = next(iter(sorted(expected.items())))
        body = client.get(
            f"{CUSTOMERS}/{customer_id}", headers=auth_headers("viewer@acme.example")
        ).json()
        assert body["rfm"] == {
            "as_of": "2026-06-30",
            "recency_days": rfm.recency_days,
            "frequency": rfm.frequency,
            "monetary": f"{rfm.monetary:.2f}",
            "r_score": rfm.r_score,
            "f_score": rfm.f_score,
            "m_score": rfm.m_score,
            "segment": rfm.segment,
            "segment_label": body["rfm"]["segment_label"],
            "settings_version": 0,
        }
        assert Decimal(body["rfm"]["monetary"]) == rfm.monetary

    def test_null_without_a_snapshot_or_without_purchases(
        self, client, connection, session, demo, auth_headers
    ):
        headers = auth_headers("viewer@acme.example")
        customer = create_customer(session, demo.acme)
        some_id = connection.exec_driver_sql(
            f"SELECT min(customer_id) FROM transactions WHERE org_id = {demo.acme.id}"
        ).scalar_one()
        assert client.get(f"{CUSTOMERS}/{some_id}", headers=headers).json()["rfm"] is None
        store(connection, demo.acme.id, DEMO_AS_OF)
        assert client.get(f"{CUSTOMERS}/{customer.id}", headers=headers).json()["rfm"] is None
        assert client.get(f"{CUSTOMERS}/{some_id}", headers=headers).json()["rfm"] is not None
