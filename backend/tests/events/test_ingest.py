"""POST /api/v1/events: per-event answers (stored, duplicate, rejected with a reason), one bad
event never rejects the batch, re-sending stores nothing, unknown customers become leads, and
the events land in their month's partition (or the default one)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from spendlens.events import service
from spendlens.models import Customer, Event
from tests.builders import create_customer, create_org, create_user, headers_for
from tests.events.helpers import EVENTS, event, post, row_counts, table_snapshot


@pytest.fixture
def org(session):
    return create_org(session)


@pytest.fixture
def analyst(session, org):
    return headers_for(create_user(session, org, role="analyst"))


class TestIngest:
    def test_stores_a_batch_and_answers_per_event(self, client, session, org, analyst):
        batch = [
            event("signed_up", "c-1", "2026-03-01T10:00:00+02:00", {"email": "a@x.example"}),
            event("login", "c-1", "2026-03-02T10:00:00Z"),
            event("custom.export_clicked", "c-2", "2026-03-03T10:00:00Z", {"any": [1, 2]}),
        ]
        response = post(client, analyst, batch)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["stored"], body["duplicate"], body["rejected"]) == (3, 0, 0)
        assert [r["status"] for r in body["results"]] == ["stored"] * 3
        assert [r["event_id"] for r in body["results"]] == [e["event_id"] for e in batch]
        rows = session.execute(select(Event).where(Event.org_id == org.id)).scalars().all()
        assert {str(r.event_id) for r in rows} == {e["event_id"] for e in batch}
        signup = next(r for r in rows if r.type == "signed_up")
        assert signup.occurred_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
        assert signup.properties == {"email": "a@x.example"}

    def test_one_bad_event_does_not_reject_the_batch(self, client, session, org, analyst):
        good = event("login", "c-1", "2026-03-02T10:00:00Z")
        bad = [
            event("login", "c-1", "2026-03-02T10:00:00"),  # no offset
            event("no_such_type", "c-1", "2026-03-02T10:00:00Z"),
            event("payment_succeeded", "c-1", "2026-03-02T10:00:00Z", {"amount": "10"}),
            {**event("login", "c-1", "2026-03-02T10:00:00Z"), "event_id": "not-a-uuid"},
            event("login", "", "2026-03-02T10:00:00Z"),
            event("feature_used", "c-1", "1899-12-31T23:00:00Z", {"feature": "x"}),
            "not an object",
        ]
        response = post(client, analyst, [good, *bad])
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["stored"], body["rejected"]) == (1, len(bad))
        reasons = [r["reason"] for r in body["results"][1:]]
        assert all(r for r in reasons)
        assert "offset" in reasons[0]
        assert "no_such_type" in reasons[1]
        assert "payment_id" in reasons[2]
        assert "UUID" in reasons[3]
        assert "customer" in reasons[4]
        assert "1900" in reasons[5]
        assert body["results"][1]["index"] == 1
        assert row_counts(session, org.id)["events"] == 1

    @pytest.mark.parametrize(
        "type_,properties,fragment",
        [
            ("payment_succeeded", {"payment_id": "p", "amount": "0", "currency": "USD"}, "amount"),
            (
                "payment_succeeded",
                {"payment_id": "p", "amount": "1.234", "currency": "USD"},
                "2 decimals",
            ),
            ("payment_failed", {"amount": "-1", "currency": "USD"}, "negative"),
            ("payment_failed", {"amount": "5", "currency": "usd"}, "currency"),
            ("shop_created", {"shop_id": "s"}, "plan_id"),
            ("plan_selected", {"plan_id": "p", "shop_id": ""}, "shop_id"),
            ("feature_used", {"feature": 3}, "feature"),
            ("signed_up", {"email": "nobody"}, "email"),
            ("support_ticket_opened", {}, "ticket_id"),
        ],
    )
    def test_each_type_checks_its_properties(
        self, client, org, analyst, type_, properties, fragment
    ):
        response = post(client, analyst, [event(type_, "c-1", "2026-03-02T10:00:00Z", properties)])
        result = response.json()["results"][0]
        assert result["status"] == "rejected"
        assert fragment in result["reason"]

    def test_unknown_properties_are_kept(self, client, session, org, analyst):
        sent = event(
            "feature_used", "c-1", "2026-03-02T10:00:00Z", {"feature": "f", "extra": {"a": 1}}
        )
        assert post(client, analyst, [sent]).json()["stored"] == 1
        stored = session.execute(
            select(Event.properties).where(Event.org_id == org.id)
        ).scalar_one()
        assert stored == {"feature": "f", "extra": {"a": 1}}

    def test_resending_an_event_id_stores_nothing_new_whatever_changed(
        self, client, session, org, analyst
    ):
        first = event("login", "c-1", "2026-03-02T10:00:00Z", {"a": 1})
        assert post(client, analyst, [first]).json()["stored"] == 1
        changed = {
            **first,
            "occurred_at": "2026-05-02T10:00:00Z",
            "customer": "c-9",
            "properties": {"a": 2},
        }
        body = post(client, analyst, [changed, first]).json()
        assert [r["status"] for r in body["results"]] == ["duplicate", "duplicate"]
        rows = session.execute(select(Event).where(Event.org_id == org.id)).scalars().all()
        assert len(rows) == 1 and rows[0].properties == {"a": 1}
        # The changed copy named a customer nobody had seen: still not created.
        externals = session.execute(
            select(Customer.external_id).where(Customer.org_id == org.id)
        ).scalars()
        assert set(externals) == {"c-1"}

    def test_the_same_id_twice_in_a_batch_is_stored_once(self, client, session, org, analyst):
        one = event("login", "c-1", "2026-03-02T10:00:00Z")
        body = post(client, analyst, [one, {**one, "type": "custom.x"}]).json()
        assert [r["status"] for r in body["results"]] == ["stored", "duplicate"]
        assert row_counts(session, org.id)["events"] == 1

    def test_an_unknown_customer_is_created_as_a_lead(self, client, session, org, analyst):
        existing = create_customer(session, org, external_id="known", lifecycle_stage="customer")
        batch = [
            event("login", "new-1", "2026-03-05T10:00:00Z"),
            event(
                "signed_up",
                "new-1",
                "2026-03-04T23:30:00-02:00",
                {"name": "Ada L", "email": "ada@x.example"},
            ),
            event("login", "new-2", "2026-03-06T10:00:00Z"),
            event("login", "known", "2026-03-06T10:00:00Z"),
        ]
        assert post(client, analyst, batch).json()["stored"] == 4
        customers = {
            c.external_id: c
            for c in session.execute(select(Customer).where(Customer.org_id == org.id)).scalars()
        }
        assert set(customers) == {"known", "new-1", "new-2"}
        assert (
            customers["known"].id == existing.id
            and customers["known"].lifecycle_stage == "customer"
        )
        ada = customers["new-1"]
        assert (ada.name, ada.email, ada.lifecycle_stage) == ("Ada L", "ada@x.example", "lead")
        assert ada.signup_date.isoformat() == "2026-03-05"  # the UTC day of the signup
        assert customers["new-2"].name == "new-2"
        assert customers["new-2"].signup_date.isoformat() == "2026-03-06"

    def test_more_than_1000_events_is_413(self, client, org, analyst):
        batch = [event("login", "c", "2026-03-02T10:00:00Z") for _ in range(1001)]
        response = post(client, analyst, batch)
        assert response.status_code == 413
        assert response.json()["error"] == "PayloadTooLarge"

    def test_1000_events_are_accepted(self, client, session, org, analyst):
        batch = [event("login", f"c-{i % 50}", "2026-03-02T10:00:00Z") for i in range(1000)]
        assert post(client, analyst, batch).json()["stored"] == 1000
        assert row_counts(session, org.id)["events"] == 1000

    def test_a_body_without_events_is_422(self, client, analyst):
        assert client.post(EVENTS, json={}, headers=analyst).status_code == 422
        assert client.post(EVENTS, json={"events": "x"}, headers=analyst).status_code == 422

    def test_text_postgres_cannot_store_is_rejected_not_500(self, client, org, analyst):
        lone_surrogate = (
            '{"events": [{"event_id": "%s", "type": "login", "occurred_at": '
            '"2026-03-02T10:00:00Z", "customer": "c", "properties": {"x": "\\ud800"}}]}'
            % uuid.uuid4()
        )
        response = client.post(
            EVENTS, content=lone_surrogate, headers={**analyst, "Content-Type": "application/json"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["results"][0]["status"] == "rejected"

    def test_events_far_in_the_past_or_future_land_in_the_default_partition(
        self, client, session, org, analyst
    ):
        batch = [
            event("login", "c", "1950-06-01T00:00:00Z"),
            event("login", "c", "2090-06-01T00:00:00Z"),
        ]
        assert post(client, analyst, batch).json()["stored"] == 2
        partitions = session.execute(
            text("SELECT tableoid::regclass::text FROM events WHERE org_id = :org"), {"org": org.id}
        ).scalars()
        assert set(partitions) == {"events_default"}

    def test_another_orgs_events_do_not_count_as_duplicates(self, client, session, org, analyst):
        other = create_org(session)
        shared = event("login", "c", "2026-03-02T10:00:00Z")
        other_headers = headers_for(create_user(session, other, role="admin"))
        assert post(client, other_headers, [shared]).json()["stored"] == 1
        assert post(client, analyst, [shared]).json()["stored"] == 1

    def test_json_only_python_reads_is_answered_event_by_event(self, client, session, org, analyst):
        # orjson parses the bodies; what it reads differently (NaN, an integer beyond 64 bits,
        # a lone surrogate) must be answered exactly as before.
        ids = [str(uuid.uuid4()) for _ in range(3)]
        body = (
            '{"events": ['
            '{"event_id": "%s", "type": "login", "occurred_at": "2026-03-02T10:00:00Z", '
            '"customer": "c", "properties": {"x": NaN}},'
            '{"event_id": "%s", "type": "login", "occurred_at": "2026-03-02T10:00:00Z", '
            '"customer": "c", "properties": {"n": 123456789012345678901234567890}},'
            '{"event_id": "\\ud800", "type": "login", "occurred_at": "2026-03-02T10:00:00Z", '
            '"customer": "c"},'
            '{"event_id": "%s", "type": "login", "occurred_at": "2026-03-02T10:00:00Z", '
            '"customer": "c", "properties": {"ok": null}}'
            "]}" % tuple(ids)
        )
        response = client.post(
            EVENTS, content=body, headers={**analyst, "Content-Type": "application/json"}
        )
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert [r["status"] for r in results] == ["rejected", "stored", "rejected", "stored"]
        assert results[0]["reason"] == "properties must be valid JSON"
        assert results[2]["reason"] == "event_id must be a UUID"
        stored = dict(
            session.execute(
                select(Event.event_id, Event.properties).where(Event.org_id == org.id)
            ).all()
        )
        assert stored[uuid.UUID(ids[1])] == {"n": 123456789012345678901234567890}
        assert stored[uuid.UUID(ids[2])] == {"ok": None}


class TestIngestService:
    def test_touched_names_each_customer_with_its_earliest_new_event(self, session, org):
        batch = [
            event("login", "a", "2026-03-05T10:00:00Z"),
            event("login", "a", "2026-03-01T10:00:00+01:00"),
            event("login", "b", "2026-04-01T00:00:00Z"),
        ]
        result = service.ingest(session, org.id, batch)
        ids = dict(
            session.execute(
                select(Customer.external_id, Customer.id).where(Customer.org_id == org.id)
            ).all()
        )
        assert result.touched == {
            ids["a"]: datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
            ids["b"]: datetime(2026, 4, 1, tzinfo=UTC),
        }
        assert result.created_customers == {ids["a"], ids["b"]}
        # Sent again: nothing stored, nobody touched.
        again = service.ingest(session, org.id, batch)
        assert again.touched == {} and again.created_customers == set()

    def test_resending_a_batch_changes_no_row_anywhere(self, session, org):
        customer = "resend"
        batch = [
            event("signed_up", customer, "2026-01-01T00:00:00Z"),
            event(
                "shop_created",
                customer,
                "2026-01-02T00:00:00Z",
                {"shop_id": "s1", "plan_id": "basic"},
            ),
            event(
                "plan_selected",
                customer,
                "2026-01-03T00:00:00Z",
                {"shop_id": "s1", "plan_id": "pro"},
            ),
            event(
                "payment_succeeded",
                customer,
                "2026-01-04T00:00:00Z",
                {
                    "payment_id": "pay-1",
                    "invoice_id": "inv-1",
                    "amount": "29.00",
                    "currency": "USD",
                },
            ),
            event(
                "payment_failed",
                customer,
                "2026-02-04T00:00:00Z",
                {"invoice_id": "inv-2", "amount": "29.00", "currency": "USD", "reason": "card"},
            ),
            event("shop_deleted", customer, "2026-03-01T00:00:00Z", {"shop_id": "s1"}),
            event("account_deleted", customer, "2026-03-02T00:00:00Z"),
        ]
        service.ingest(session, org.id, batch)
        tables = (
            "events",
            "event_ids",
            "customers",
            "plans",
            "shops",
            "invoices",
            "payments",
            "transactions",
        )
        before = {t: table_snapshot(session, org.id, t) for t in tables}
        assert all(before[t] for t in tables), {t: len(v) for t, v in before.items()}
        result = service.ingest(session, org.id, list(reversed(batch)))
        assert {r.status.value for r in result.results} == {"duplicate"}
        assert {t: table_snapshot(session, org.id, t) for t in tables} == before
