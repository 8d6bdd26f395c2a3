"""The journey's routes: roles, organisation scoping, bad ranges, the settings and a customer's
history (the figures themselves are checked against the replay in test_acceptance.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.journey.helpers import post_events, run_journey_jobs
from tests.journey.reference import Ev

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


def _history(customer: str, prefix: int) -> list[Ev]:
    def eid(n: int) -> str:
        return f"{prefix:08x}-0000-4000-8000-{n:012x}"

    return [
        Ev(customer, eid(1), "signed_up", T0),
        Ev(
            customer,
            eid(2),
            "shop_created",
            T0 + timedelta(days=1),
            {"shop_id": "s1", "plan_id": "p"},
        ),
        Ev(
            customer,
            eid(3),
            "payment_succeeded",
            T0 + timedelta(days=2),
            {"payment_id": f"pay-{prefix}", "amount": "10.00", "currency": "USD"},
        ),
    ]


def _customer_id(connection, org_id: int, external_id: str) -> int:
    return connection.execute(
        text("SELECT id FROM customers WHERE org_id = :org AND external_id = :ext"),
        {"org": org_id, "ext": external_id},
    ).scalar_one()


@pytest.fixture
def two_shops(client, connection, shop, other_shop):
    post_events(client, shop.analyst, _history("alice", 1))
    post_events(client, other_shop.analyst, _history("bob", 2) + _history("carol", 3)[:1])
    run_journey_jobs(connection, shop.id)
    run_journey_jobs(connection, other_shop.id)
    return shop, other_shop


class TestCustomerStages:
    def test_history_milestones_and_current_stage(self, client, connection, two_shops):
        shop, _ = two_shops
        alice = _customer_id(connection, shop.id, "alice")
        body = client.get(f"/api/v1/customers/{alice}/stages", headers=shop.viewer).json()
        assert [item["stage"] for item in body["items"]] == [
            "lead",
            "prospect",
            "customer",
            "churned",
        ]
        churn = datetime.fromisoformat(body["items"][3]["valid_from"])
        assert churn == T0 + timedelta(days=62)  # the default 60 days after the payment
        assert body["items"][3]["valid_to"] is None
        assert body["stage"] == "churned" and body["pending"] is False
        assert datetime.fromisoformat(body["customer_at"]) == T0 + timedelta(days=2)
        lifecycle = connection.execute(
            text("SELECT lifecycle_stage FROM customers WHERE org_id = :o AND id = :id"),
            {"o": shop.id, "id": alice},
        ).scalar_one()
        assert lifecycle == "churned"

    def test_another_organisations_customer_is_not_found(self, client, connection, two_shops):
        shop, other = two_shops
        bob = _customer_id(connection, other.id, "bob")
        response = client.get(f"/api/v1/customers/{bob}/stages", headers=shop.viewer)
        assert response.status_code == 404
        assert response.json()["error"] == "NotFound"

    def test_a_huge_id_is_not_found(self, client, shop):
        response = client.get(f"/api/v1/customers/{2**70}/stages", headers=shop.viewer)
        assert response.status_code in (404, 422)


class TestOrganisationScope:
    def test_stages_flows_funnel_and_series_see_only_their_organisation(self, client, two_shops):
        shop, other = two_shops
        for org, expected in ((shop, 1), (other, 2)):
            stages = client.get(
                "/api/v1/journey/stages", params={"as_of": "2025-03-10"}, headers=org.viewer
            ).json()
            assert stages["total"] == expected
            flows = client.get(
                "/api/v1/journey/flows",
                params={"start": "2025-01-01", "end": "2025-03-10"},
                headers=org.viewer,
            ).json()
            assert flows["total"] == expected
            funnel = client.get(
                "/api/v1/journey/funnel",
                params={"start": "2025-03-01", "end": "2025-03-01"},
                headers=org.viewer,
            ).json()
            assert funnel["steps"][0]["customers"] == expected
            series = client.get(
                "/api/v1/journey/stages/timeseries",
                params={"interval": "day", "start": "2025-03-10", "end": "2025-03-10"},
                headers=org.viewer,
            ).json()
            assert series["points"][0]["total"] == expected


class TestRoles:
    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/journey/stages",
            "/api/v1/journey/stages/timeseries",
            "/api/v1/journey/funnel",
            "/api/v1/journey/flows",
            "/api/v1/journey/settings",
        ],
    )
    def test_every_role_reads_and_anonymous_gets_401(self, client, shop, path):
        for headers in (shop.viewer, shop.analyst, shop.admin):
            assert client.get(path, headers=headers).status_code == 200
        assert client.get(path).status_code == 401

    def test_only_admins_set_the_churn_window(self, client, shop):
        for headers in (shop.viewer, shop.analyst):
            response = client.put(
                "/api/v1/journey/settings", json={"churn_after_days": 30}, headers=headers
            )
            assert response.status_code == 403
        assert (
            client.get("/api/v1/journey/settings", headers=shop.viewer).json()["churn_after_days"]
            == 60
        )


class TestSettings:
    def test_a_change_rebuilds_every_customer(self, client, connection, two_shops):
        shop, other = two_shops
        response = client.put(
            "/api/v1/journey/settings", json={"churn_after_days": 10}, headers=shop.admin
        )
        assert response.status_code == 200
        assert response.json()["churn_after_days"] == 10
        assert response.json()["rebuild_job_id"] is not None
        run_journey_jobs(connection, shop.id)
        alice = _customer_id(connection, shop.id, "alice")
        body = client.get(f"/api/v1/customers/{alice}/stages", headers=shop.viewer).json()
        assert datetime.fromisoformat(body["items"][-1]["valid_from"]) == T0 + timedelta(days=12)
        # The other organisation keeps the default.
        bob = _customer_id(connection, other.id, "bob")
        body = client.get(f"/api/v1/customers/{bob}/stages", headers=other.viewer).json()
        assert datetime.fromisoformat(body["items"][-1]["valid_from"]) == T0 + timedelta(days=62)

    @pytest.mark.parametrize("days", [0, -1, 3651, "x", None])
    def test_out_of_range_values_are_422(self, client, shop, days):
        response = client.put(
            "/api/v1/journey/settings", json={"churn_after_days": days}, headers=shop.admin
        )
        assert response.status_code == 422


class TestBadRanges:
    @pytest.mark.parametrize(
        "path, params",
        [
            ("/api/v1/journey/stages", {"as_of": "yesterday"}),
            ("/api/v1/journey/stages", {"as_of": "1899-12-31"}),
            ("/api/v1/journey/stages", {"as_of": "2101-01-01T00:00:00Z"}),
            ("/api/v1/journey/stages", {"as_of": "9999-12-31T23:59:59-14:00"}),
            ("/api/v1/journey/flows", {"start": "2025-03-10", "end": "2025-03-01"}),
            ("/api/v1/journey/flows", {"start": "2025-03-10", "end": "2025-03-10"}),
            ("/api/v1/journey/flows", {"start": "2025-13-01"}),
            ("/api/v1/journey/funnel", {"start": "2025-03-10", "end": "2025-03-01"}),
            ("/api/v1/journey/funnel", {"within_days": -1}),
            ("/api/v1/journey/stages/timeseries", {"start": "2025-03-10", "end": "2025-03-01"}),
            (
                "/api/v1/journey/stages/timeseries",
                {"interval": "day", "start": "1900-01-01", "end": "2100-12-31"},
            ),
            ("/api/v1/journey/stages/timeseries", {"interval": "year"}),
        ],
    )
    def test_422_in_the_error_shape(self, client, shop, path, params):
        response = client.get(path, params=params, headers=shop.viewer)
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "ValidationError"
