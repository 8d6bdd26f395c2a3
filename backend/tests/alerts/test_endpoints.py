"""The /alerts API: rules are written by admins and read by everyone, alerts are acknowledged and
resolved by analysts and admins, the feed returns what is new since an id, another
organisation's rules and alerts answer 404, and bad input answers 422."""

from __future__ import annotations

import pytest

from spendlens.alerts.service import evaluate
from spendlens.alerts.signals import CustomerSignals
from spendlens.config import get_settings
from spendlens.models import Job
from tests.alerts.conftest import NOW, Shop, make_rule
from tests.builders import create_customer, create_org, create_user

RULE = {
    "name": "Health fell 20",
    "kind": "health_drop",
    "params": {"points": 20},
    "severity": "critical",
    "cooldown_minutes": 1440,
    "escalation_minutes": 60,
    "escalation_emails": ["Boss@Shop.example"],
    "webhooks": [{"url": "https://hooks.shop.example/spendlens"}],
    "emails": ["team@shop.example"],
}


@pytest.fixture
def allow_private(app, delivery_settings):
    """The API with SPENDLENS_WEBHOOKS_ALLOW_PRIVATE set."""
    app.dependency_overrides[get_settings] = lambda: delivery_settings


def raise_alerts(session, shop: Shop, *customers) -> list[dict]:
    """One open health_drop alert per customer."""
    signals = [CustomerSignals(c.id, health_score=10, previous_health_score=90) for c in customers]
    evaluate(session.connection(), shop.org.id, signals, NOW)
    session.flush()


class TestRules:
    def test_an_admin_creates_a_rule_and_sees_the_generated_secret_once(self, client, shop):
        response = client.post("/api/v1/alerts/rules", json=RULE, headers=shop.headers("admin"))
        assert response.status_code == 201, response.text
        rule = response.json()
        assert response.headers["Location"] == f"/api/v1/alerts/rules/{rule['id']}"
        assert rule["params"] == {"points": 20.0}
        assert rule["escalation_emails"] == ["boss@shop.example"]
        assert rule["emails"] == ["team@shop.example"]
        [webhook] = rule["webhooks"]
        assert webhook["url"] == RULE["webhooks"][0]["url"]
        assert webhook["secret"].startswith("whsec_")

        again = client.get(f"/api/v1/alerts/rules/{rule['id']}", headers=shop.headers("viewer"))
        assert again.status_code == 200
        assert again.json()["webhooks"] == [{**webhook, "secret": None}]
        listed = client.get("/api/v1/alerts/rules", headers=shop.headers("analyst")).json()
        assert [r["id"] for r in listed["items"]] == [rule["id"]] and listed["total"] == 1

    def test_a_set_secret_is_used_and_never_shown(self, client, shop, session):
        body = {**RULE, "webhooks": [{"url": RULE["webhooks"][0]["url"], "secret": "s" * 32}]}
        rule = client.post("/api/v1/alerts/rules", json=body, headers=shop.headers("admin")).json()
        assert rule["webhooks"][0]["secret"] is None
        from sqlalchemy import select

        from spendlens.models import AlertDestination

        stored = session.execute(
            select(AlertDestination.secret).where(
                AlertDestination.rule_id == rule["id"], AlertDestination.channel == "webhook"
            )
        ).scalars()
        assert list(stored) == ["s" * 32]

    def test_replacing_keeps_a_webhooks_secret_and_removes_what_is_left_out(self, client, shop):
        created = client.post("/api/v1/alerts/rules", json=RULE, headers=shop.headers("admin"))
        rule = created.json()
        new_url = "https://other.shop.example/hook"
        body = {
            **RULE,
            "name": "Renamed",
            "enabled": False,
            "webhooks": [{"url": RULE["webhooks"][0]["url"]}, {"url": new_url}],
            "emails": [],
        }
        response = client.put(
            f"/api/v1/alerts/rules/{rule['id']}", json=body, headers=shop.headers("admin")
        )
        assert response.status_code == 200, response.text
        replaced = response.json()
        assert (replaced["name"], replaced["enabled"], replaced["emails"]) == ("Renamed", False, [])
        kept, added = replaced["webhooks"]
        assert kept["id"] == rule["webhooks"][0]["id"] and kept["secret"] is None
        assert added["url"] == new_url and added["secret"].startswith("whsec_")

    def test_an_admin_deletes_a_rule_with_its_alerts(self, client, session, shop):
        rule = make_rule(session, shop)
        raise_alerts(session, shop, create_customer(session, shop.org))
        url = f"/api/v1/alerts/rules/{rule.id}"
        assert client.delete(url, headers=shop.headers("admin")).status_code == 204
        assert client.get(url, headers=shop.headers("admin")).status_code == 404
        assert client.get("/api/v1/alerts", headers=shop.headers("admin")).json()["total"] == 0

    @pytest.mark.parametrize("role", ["viewer", "analyst"])
    def test_only_admins_write_rules(self, client, session, shop, role):
        rule = make_rule(session, shop)
        headers = shop.headers(role)
        assert client.post("/api/v1/alerts/rules", json=RULE, headers=headers).status_code == 403
        url = f"/api/v1/alerts/rules/{rule.id}"
        assert client.put(url, json=RULE, headers=headers).status_code == 403
        assert client.delete(url, headers=headers).status_code == 403
        assert client.get(url, headers=headers).status_code == 200

    def test_a_second_rule_with_the_same_name_is_a_conflict(self, client, shop):
        assert client.post("/api/v1/alerts/rules", json=RULE, headers=shop.headers("admin"))
        again = client.post("/api/v1/alerts/rules", json=RULE, headers=shop.headers("admin"))
        assert again.status_code == 409 and again.json()["error"] == "Conflict"

    @pytest.mark.parametrize(
        "change",
        [
            {"kind": "health_fell"},
            {"params": {}},
            {"params": {"points": 0}},
            {"params": {"points": 20, "extra": 1}},
            {"kind": "churn_probability", "params": {"probability": 1.5}},
            {"kind": "spend_drop", "params": {"days": 0, "percent": 50}},
            {"kind": "spend_drop", "params": {"days": 30, "percent": 101}},
            {"kind": "spend_drop", "params": {"days": 30}},
            {"kind": "entered_critical", "params": {"points": 3}},
            {"severity": "loud"},
            {"severity": "warning"},  # escalation is for critical rules only
            {"escalation_emails": []},  # escalation time without recipients
            {"cooldown_minutes": -1},
            {"name": ""},
            {"emails": ["not-an-email"]},
            {"webhooks": [{"url": "ftp://hooks.shop.example/x"}]},
            {"webhooks": [{"url": "https://user:pw@hooks.shop.example/x"}]},
            {"webhooks": [{"url": "https://hooks.shop.example/x", "secret": "short"}]},
            {"webhooks": [{"url": "https://a.example/x"}, {"url": "https://a.example/x"}]},
            {"unknown": True},
        ],
    )
    def test_invalid_rules_answer_422(self, client, shop, change):
        body = {**RULE, **change}
        response = client.post("/api/v1/alerts/rules", json=body, headers=shop.headers("admin"))
        assert response.status_code == 422, (change, response.text)
        assert response.json()["error"] == "ValidationError"

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8080/hook",
            "http://10.1.2.3/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/hook",
            "http://localhost/hook",
        ],
    )
    def test_a_webhook_at_a_private_address_is_refused_without_the_setting(self, client, shop, url):
        body = {**RULE, "webhooks": [{"url": url}]}
        response = client.post("/api/v1/alerts/rules", json=body, headers=shop.headers("admin"))
        assert response.status_code == 422, response.text
        assert "SPENDLENS_WEBHOOKS_ALLOW_PRIVATE" in response.text

    def test_a_private_webhook_is_accepted_with_the_setting(self, client, shop, allow_private):
        body = {**RULE, "webhooks": [{"url": "http://127.0.0.1:9/hook"}]}
        response = client.post("/api/v1/alerts/rules", json=body, headers=shop.headers("admin"))
        assert response.status_code == 201, response.text


class TestAlerts:
    def test_list_filters_by_state_severity_and_customer(self, client, session, shop):
        make_rule(session, shop)
        a, b = create_customer(session, shop.org), create_customer(session, shop.org)
        raise_alerts(session, shop, a, b)
        headers = shop.headers("viewer")
        listed = client.get("/api/v1/alerts", headers=headers).json()
        assert listed["total"] == 2 and listed["items"][0]["customer_id"] == b.id  # newest first
        first_id = listed["items"][1]["id"]
        analyst = shop.headers("analyst")
        assert client.post(f"/api/v1/alerts/{first_id}/acknowledge", headers=analyst).json()[
            "state"
        ] == ("acknowledged")

        def ids(**params):
            page = client.get("/api/v1/alerts", params=params, headers=headers).json()
            return [item["customer_id"] for item in page["items"]]

        assert ids(state="acknowledged") == [a.id]
        assert ids(state=["open", "acknowledged"]) == [b.id, a.id]
        assert ids(customer_id=b.id) == [b.id]
        assert ids(severity="critical") == []
        assert ids(severity="warning", limit=1, skip=1) == [a.id]
        bad = client.get("/api/v1/alerts", params={"state": "closed"}, headers=headers)
        assert bad.status_code == 422

    def test_acknowledge_then_resolve_by_analysts_and_admins(self, client, session, shop):
        make_rule(session, shop)
        raise_alerts(session, shop, create_customer(session, shop.org))
        alert = client.get("/api/v1/alerts", headers=shop.headers("viewer")).json()["items"][0]
        url = f"/api/v1/alerts/{alert['id']}"
        viewer = shop.headers("viewer")
        assert client.post(f"{url}/acknowledge", headers=viewer).status_code == 403
        assert client.post(f"{url}/resolve", headers=viewer).status_code == 403

        acked = client.post(f"{url}/acknowledge", headers=shop.headers("analyst")).json()
        assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == shop.analyst.id
        resolved = client.post(f"{url}/resolve", headers=shop.headers("admin")).json()
        assert resolved["state"] == "resolved" and resolved["resolved_by"] == shop.admin.id
        assert resolved["resolved_at"] is not None
        again = client.post(f"{url}/acknowledge", headers=shop.headers("analyst"))
        assert again.status_code == 409
        assert client.post(f"{url}/resolve", headers=shop.headers("analyst")).status_code == 200

    def test_the_feed_returns_what_is_new_since_an_id(self, client, session, shop):
        make_rule(session, shop)
        headers = shop.headers("viewer")
        empty = client.get("/api/v1/alerts/feed", headers=headers).json()
        assert empty == {"items": [], "last_id": None}
        raise_alerts(session, shop, create_customer(session, shop.org))
        first = client.get("/api/v1/alerts/feed", params={"after": 0}, headers=headers).json()
        assert len(first["items"]) == 1
        last_id = first["last_id"]
        assert last_id == first["items"][0]["id"]
        nothing = client.get("/api/v1/alerts/feed", params={"after": last_id}, headers=headers)
        assert nothing.json() == {"items": [], "last_id": last_id}
        c, d = create_customer(session, shop.org), create_customer(session, shop.org)
        raise_alerts(session, shop, c, d)
        new = client.get("/api/v1/alerts/feed", params={"after": last_id}, headers=headers).json()
        assert [i["customer_id"] for i in new["items"]] == [c.id, d.id]
        assert new["last_id"] == new["items"][-1]["id"]
        limited = client.get("/api/v1/alerts/feed", params={"limit": 2}, headers=headers).json()
        assert [i["customer_id"] for i in limited["items"]] == [c.id, d.id]  # the latest two

    def test_another_organisations_alerts_and_rules_are_not_found(self, client, session, shop):
        other_org = create_org(session)
        other = Shop(other_org, create_user(session, other_org, role="admin"), None, None)
        rule = make_rule(session, other)
        raise_alerts(session, other, create_customer(session, other_org))
        from sqlalchemy import select

        from spendlens.models import Alert

        alert_id = session.execute(select(Alert.id).where(Alert.org_id == other_org.id)).scalar()
        headers = shop.headers("admin")
        assert client.get(f"/api/v1/alerts/{alert_id}", headers=headers).status_code == 404
        for action in ("acknowledge", "resolve"):
            response = client.post(f"/api/v1/alerts/{alert_id}/{action}", headers=headers)
            assert response.status_code == 404
        deliveries = client.get(f"/api/v1/alerts/{alert_id}/deliveries", headers=headers)
        assert deliveries.status_code == 404
        url = f"/api/v1/alerts/rules/{rule.id}"
        assert client.get(url, headers=headers).status_code == 404
        assert client.put(url, json=RULE, headers=headers).status_code == 404
        assert client.delete(url, headers=headers).status_code == 404
        assert client.get("/api/v1/alerts", headers=headers).json()["total"] == 0
        assert client.get("/api/v1/alerts/feed", headers=headers).json()["items"] == []
        assert client.get("/api/v1/alerts/rules", headers=headers).json()["total"] == 0
        own = client.get(f"/api/v1/alerts/{alert_id}", headers=other.headers("admin"))
        assert own.status_code == 200

    def test_evaluate_queues_a_job_for_analysts(self, client, session, shop):
        response = client.post("/api/v1/alerts/evaluate", headers=shop.headers("analyst"))
        assert response.status_code == 202, response.text
        job = session.get(Job, (shop.org.id, response.json()["id"]))
        assert (job.kind, job.params) == ("alerts.evaluate", {"trigger": "api"})
        viewer = client.post("/api/v1/alerts/evaluate", headers=shop.headers("viewer"))
        assert viewer.status_code == 403
