"""GET /api/v1/events and GET /api/v1/customers/{id}/events: newest first, paged, filtered by
type, customer and time; every role reads; another organisation's events are never visible."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from spendlens.events import service
from spendlens.models import Customer
from tests.builders import create_org, create_user, headers_for
from tests.events.helpers import EVENTS, event


@pytest.fixture
def org(session):
    return create_org(session)


@pytest.fixture
def viewer(session, org):
    return headers_for(create_user(session, org, role="viewer"))


@pytest.fixture
def history(session, org):
    batch = [
        event("signed_up", "a", "2026-01-01T08:00:00Z", {"email": "a@x.example"}),
        event("login", "a", "2026-01-02T08:00:00Z"),
        event("login", "a", "2026-01-03T08:00:00Z"),
        event("feature_used", "a", "2026-01-04T08:00:00Z", {"feature": "export"}),
        event("signed_up", "b", "2026-01-02T12:00:00Z"),
        event("login", "b", "2026-02-01T00:00:00Z"),
    ]
    service.ingest(session, org.id, batch)
    ids = dict(
        session.execute(
            select(Customer.external_id, Customer.id).where(Customer.org_id == org.id)
        ).all()
    )
    return batch, ids


class TestListEvents:
    def test_newest_first_with_customer_and_properties(self, client, org, viewer, history):
        batch, ids = history
        body = client.get(EVENTS, headers=viewer).json()
        assert body["total"] == 6
        times = [item["occurred_at"] for item in body["items"]]
        assert times == sorted(times, reverse=True)
        first = body["items"][-1]
        assert first == {
            "event_id": batch[0]["event_id"],
            "customer_id": ids["a"],
            "customer": "a",
            "type": "signed_up",
            "occurred_at": "2026-01-01T08:00:00Z",
            "received_at": first["received_at"],
            "properties": {"email": "a@x.example"},
        }

    def test_filters(self, client, org, viewer, history):
        _, ids = history

        def total(**params):
            response = client.get(EVENTS, params=params, headers=viewer)
            assert response.status_code == 200, response.text
            return response.json()["total"]

        assert total(type="login") == 3
        assert total(type=["login", "signed_up"]) == 5
        assert total(customer_id=ids["b"]) == 2
        assert total(customer="a") == 4
        assert total(customer="nobody") == 0
        assert total(start="2026-01-02", end="2026-01-03") == 3  # both whole UTC days
        assert total(start="2026-01-02T10:00:00+02:00") == 5  # 08:00 UTC, inclusive
        assert total(end="2026-01-02T08:00:00Z") == 1  # exclusive

    def test_paging(self, client, viewer, history):
        page = client.get(EVENTS, params={"skip": 4, "limit": 5}, headers=viewer).json()
        assert (page["total"], len(page["items"]), page["skip"], page["limit"]) == (6, 2, 4, 5)

    @pytest.mark.parametrize(
        "bad", [{"start": "yesterday"}, {"end": "2026-01-01T00:00:00"}, {"start": "2026-13-01"}]
    )
    def test_bad_bounds_are_422(self, client, viewer, bad):
        response = client.get(EVENTS, params=bad, headers=viewer)
        assert response.status_code == 422
        assert response.json()["error"] == "ValidationError"

    def test_another_orgs_events_are_never_listed(self, client, session, history):
        stranger = headers_for(create_user(session, create_org(session), role="admin"))
        assert client.get(EVENTS, headers=stranger).json()["total"] == 0
        assert client.get(EVENTS, params={"customer": "a"}, headers=stranger).json()["total"] == 0


class TestCustomerTimeline:
    def test_timeline_paged_and_filtered(self, client, viewer, history):
        _, ids = history
        url = f"/api/v1/customers/{ids['a']}/events"
        body = client.get(url, headers=viewer).json()
        assert body["total"] == 4
        assert [i["type"] for i in body["items"]] == ["feature_used", "login", "login", "signed_up"]
        logins = client.get(url, params={"type": "login", "limit": 1}, headers=viewer).json()
        assert logins["total"] == 2 and len(logins["items"]) == 1

    def test_another_orgs_customer_is_404(self, client, session, history):
        _, ids = history
        stranger = headers_for(create_user(session, create_org(session), role="admin"))
        response = client.get(f"/api/v1/customers/{ids['a']}/events", headers=stranger)
        assert response.status_code == 404

    def test_a_customer_without_events_has_an_empty_timeline(self, client, session, org, viewer):
        from tests.builders import create_customer

        customer = create_customer(session, org)
        body = client.get(f"/api/v1/customers/{customer.id}/events", headers=viewer).json()
        assert (body["total"], body["items"]) == (0, [])


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/customers/99999999999999999999/events",
        "/api/v1/events?customer_id=99999999999999999999",
        "/api/v1/customers/-1/events",
    ],
)
def test_ids_beyond_bigint_are_refused_or_missing_not_500(client, viewer, url):
    assert client.get(url, headers=viewer).status_code in (404, 422)
