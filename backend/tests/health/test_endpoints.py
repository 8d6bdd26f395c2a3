"""The health routes: roles, validation, tenant isolation, the overview and at-risk list, history
and trend, and the customers list's health fields, filter and sort."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import select

from spendlens.health.schemas import HistoryPoint
from spendlens.health.service import trend
from spendlens.models import Job
from tests.builders import create_customer, create_org, create_user, headers_for
from tests.health.conftest import AS_OF
from tests.health.helpers import HEALTH, NAMES, run_health_job_here, store

VALID = {
    "weights": {
        "recency": 0.3,
        "purchase_frequency_trend": 0.1,
        "spend_trend": 0.1,
        "login_frequency": 0.2,
        "feature_adoption": 0.1,
        "open_support_tickets": 0.1,
        "failed_payments": 0.1,
    },
    "bands": {"healthy": 75, "at_risk": 45},
}


class TestSettings:
    def test_defaults_before_any_change(self, client, scenario):
        body = client.get(f"{HEALTH}/settings", headers=scenario.viewer).json()
        assert body["version"] == 0 and body["updated_at"] is None
        assert list(body["weights"]) == list(NAMES)
        assert sum(body["weights"].values()) == pytest.approx(1)
        assert body["bands"] == {"healthy": 70.0, "at_risk": 40.0}

    def test_admin_sets_a_new_version_each_time(self, client, scenario):
        first = client.put(f"{HEALTH}/settings", json=VALID, headers=scenario.admin)
        assert first.status_code == 200, first.text
        second = client.put(f"{HEALTH}/settings", json=VALID, headers=scenario.admin)
        assert (first.json()["version"], second.json()["version"]) == (1, 2)
        current = client.get(f"{HEALTH}/settings", headers=scenario.viewer).json()
        assert current["version"] == 2 and current["weights"] == VALID["weights"]
        assert current["bands"] == {"healthy": 75.0, "at_risk": 45.0}
        assert client.get(
            f"{HEALTH}/settings", params={"version": 0}, headers=scenario.viewer
        ).json()["weights"]["recency"] == pytest.approx(0.25)
        missing = client.get(f"{HEALTH}/settings", params={"version": 9}, headers=scenario.viewer)
        assert missing.status_code == 404

    @pytest.mark.parametrize("role", ["viewer", "analyst"])
    def test_only_admins_change_them(self, client, scenario, role):
        response = client.put(f"{HEALTH}/settings", json=VALID, headers=getattr(scenario, role))
        assert response.status_code == 403
        assert client.get(f"{HEALTH}/settings", headers=scenario.viewer).json()["version"] == 0

    @pytest.mark.parametrize(
        "change, words",
        [
            ({"weights": {**VALID["weights"], "recency": 0.5}}, "must sum to 1; they sum to 1.2"),
            ({"weights": {"recency": 0.5, "spend_trend": 0.4}}, "must sum to 1; they sum to 0.9"),
            ({"weights": {**VALID["weights"], "mood": 0}}, "unknown component(s) mood"),
            (
                {"weights": {**VALID["weights"], "recency": -0.1, "spend_trend": 0.5}},
                "weight of recency must be a number ≥ 0",
            ),
            ({"bands": {"healthy": 40, "at_risk": 60}}, "at_risk must be below bands.healthy"),
            ({"bands": {"healthy": 140, "at_risk": 60}}, "less than or equal to 100"),
            ({"bands": {"healthy": 70}}, "Field required"),
            ({"weights": None}, "valid dictionary"),
        ],
    )
    def test_invalid_settings_are_422_with_a_clear_message(self, client, scenario, change, words):
        response = client.put(
            f"{HEALTH}/settings", json={**VALID, **change}, headers=scenario.admin
        )
        assert response.status_code == 422, response.text
        assert words in str(response.json()["detail"])
        assert client.get(f"{HEALTH}/settings", headers=scenario.viewer).json()["version"] == 0

    def test_a_weight_of_one_alone_is_enough(self, client, scenario):
        response = client.put(
            f"{HEALTH}/settings",
            json={"weights": {"failed_payments": 1}, "bands": VALID["bands"]},
            headers=scenario.admin,
        )
        assert response.status_code == 200
        weights = response.json()["weights"]
        assert weights["failed_payments"] == 1 and sum(weights.values()) == 1


class TestRecompute:
    def test_viewer_cannot_recompute(self, client, scenario):
        response = client.post(f"{HEALTH}/recompute", headers=scenario.viewer)
        assert response.status_code == 403

    @pytest.mark.parametrize("role", ["analyst", "admin"])
    def test_analysts_and_admins_queue_a_job_that_stores_scores(
        self, client, connection, scenario, role
    ):
        headers = getattr(scenario, role)
        response = client.post(
            f"{HEALTH}/recompute", json={"as_of": AS_OF.isoformat()}, headers=headers
        )
        assert response.status_code == 202, response.text
        job = response.json()
        assert job["kind"] == "health" and job["state"] == "queued"
        assert job["params"] == {"as_of": AS_OF.isoformat(), "trigger": "api"}
        assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
        run_health_job_here(connection, scenario.org.id, job["id"])
        done = client.get(f"/api/v1/jobs/{job['id']}", headers=headers).json()
        assert done["state"] == "succeeded", done
        assert done["result"]["customers"] == 5 and done["result"]["as_of"] == AS_OF.isoformat()
        overview = client.get(HEALTH, headers=scenario.viewer).json()
        assert overview["as_of"] == AS_OF.isoformat() and overview["customers"] == 5

    def test_without_a_body_it_computes_today_and_refuses_the_future(self, client, scenario):
        from spendlens.kit.dates import today_utc

        response = client.post(f"{HEALTH}/recompute", headers=scenario.analyst)
        assert response.status_code == 202
        assert response.json()["params"]["as_of"] == today_utc().isoformat()
        future = (today_utc() + timedelta(days=2)).isoformat()
        response = client.post(
            f"{HEALTH}/recompute", json={"as_of": future}, headers=scenario.analyst
        )
        assert response.status_code == 422


class TestTenancy:
    def test_another_organisations_customer_is_404(self, client, session, connection, scenario):
        other = create_org(session)
        outsider = create_customer(session, other)
        store(connection, scenario.org.id, AS_OF)
        store(connection, other.id, AS_OF)
        response = client.get(f"/api/v1/customers/{outsider.id}/health", headers=scenario.admin)
        assert response.status_code == 404
        assert (
            client.get("/api/v1/customers/999999999/health", headers=scenario.admin).status_code
            == 404
        )

    def test_each_organisation_sees_and_recomputes_only_its_own(
        self, client, session, connection, scenario
    ):
        other = create_org(session)
        for _ in range(3):
            create_customer(session, other)
        other_admin = headers_for(create_user(session, other, role="admin"))
        store(connection, other.id, AS_OF)
        # Nothing computed for the scenario's organisation yet: its overview is empty.
        mine = client.get(HEALTH, headers=scenario.viewer).json()
        assert mine["as_of"] is None and mine["customers"] == 0
        theirs = client.get(HEALTH, headers=other_admin).json()
        assert theirs["customers"] + theirs["unscored"] == 3
        # Their settings change does not touch ours.
        client.put(f"{HEALTH}/settings", json=VALID, headers=other_admin)
        assert client.get(f"{HEALTH}/settings", headers=scenario.viewer).json()["version"] == 0
        store(connection, scenario.org.id, AS_OF)
        assert client.get(HEALTH, headers=scenario.viewer).json()["customers"] == 5
        assert client.get(HEALTH, headers=other_admin).json()["customers"] == theirs["customers"]


class TestCustomerHealth:
    def test_before_any_computation_the_score_is_null(self, client, scenario):
        body = client.get(
            f"/api/v1/customers/{scenario.customers['A'].id}/health", headers=scenario.viewer
        ).json()
        assert body["score"] is None and body["band"] is None and body["components"] == []
        assert body["computed_at"] is None and body["history"] == []
        assert body["trend"] == {"points": 0, "slope_per_day": None, "projection": None}

    def test_history_and_trend_over_stored_days(self, client, connection, scenario):
        days = [AS_OF - timedelta(days=d) for d in (120, 60, 30, 10, 0)]
        for day in days:
            store(connection, scenario.org.id, day)
        store(connection, scenario.org.id, AS_OF)  # recomputing a day replaces it
        body = client.get(
            f"/api/v1/customers/{scenario.customers['A'].id}/health", headers=scenario.viewer
        ).json()
        history = body["history"]
        assert [p["as_of"] for p in history] == [d.isoformat() for d in days]
        assert history[-1]["score"] == body["score"]
        # The trend: least squares over the 90 days up to the latest (4 points; 120 days ago
        # is out), slope in points per day, projection 30 days on with a 95% interval.
        window = history[1:]
        xs = np.array([(AS_OF - date_of(p)).days * -1.0 for p in window])
        ys = np.array([p["score"] for p in window])
        slope, intercept = np.polyfit(xs, ys, 1)
        trend_body = body["trend"]
        assert trend_body["points"] == 4
        assert trend_body["slope_per_day"] == pytest.approx(slope, abs=1e-5)
        projection = trend_body["projection"]
        assert projection["as_of"] == (AS_OF + timedelta(days=30)).isoformat()
        fitted = intercept + slope * 30
        assert projection["score"] == pytest.approx(min(100, max(0, fitted)), abs=1e-3)
        residuals = ys - (intercept + slope * xs)
        s = math.sqrt((residuals**2).sum() / 2)
        half = (
            stats.t.ppf(0.975, 2)
            * s
            * math.sqrt(1 + 1 / 4 + (30 - xs.mean()) ** 2 / ((xs - xs.mean()) ** 2).sum())
        )
        assert projection["lower"] == pytest.approx(min(100, max(0, fitted - half)), abs=1e-3)
        assert projection["upper"] == pytest.approx(min(100, max(0, fitted + half)), abs=1e-3)


def date_of(point):
    from datetime import date

    return date.fromisoformat(point["as_of"])


def test_trend_of_a_straight_line_projects_it_with_no_spread():
    from datetime import datetime, UTC

    points = [
        HistoryPoint(
            as_of=AS_OF - timedelta(days=d),
            score=50 - 0.5 * d,
            band="at_risk",
            settings_version=0,
            computed_at=datetime(2026, 7, 1, tzinfo=UTC),
        )
        for d in (40, 20, 0)
    ]
    result = trend(points)
    assert result.slope_per_day == pytest.approx(0.5)
    assert result.projection.score == pytest.approx(65)
    assert result.projection.lower == pytest.approx(65) == result.projection.upper
    assert trend(points[-1:]).projection is None


class TestOverview:
    def test_bands_distribution_and_the_at_risk_list(self, client, connection, scenario):
        store(connection, scenario.org.id, AS_OF - timedelta(days=7))
        store(connection, scenario.org.id, AS_OF)
        scores = {}
        for key, customer in scenario.customers.items():
            body = client.get(
                f"/api/v1/customers/{customer.id}/health", headers=scenario.viewer
            ).json()
            scores[key] = (body["score"], body["band"], body["history"])
        overview = client.get(HEALTH, headers=scenario.viewer).json()
        assert overview["customers"] == 5 and overview["unscored"] == 0
        bands = {b["band"]: b["customers"] for b in overview["bands"]}
        assert list(bands) == ["healthy", "at_risk", "critical"]
        for band in bands:
            assert bands[band] == sum(1 for s in scores.values() if s[1] == band)
        bins = overview["distribution"]
        assert [(b["lower"], b["upper"]) for b in bins] == [
            (k * 10.0, k * 10.0 + 10) for k in range(10)
        ]
        for b in bins:
            assert b["customers"] == sum(
                1 for s in scores.values() if min(int(s[0] // 10), 9) == b["lower"] // 10
            )
        at_risk = overview["at_risk"]
        wanted = sorted(
            (s[0], scenario.customers[k].id) for k, s in scores.items() if s[1] != "healthy"
        )
        assert [i["customer_id"] for i in at_risk["items"]] == [cid for _, cid in wanted]
        assert at_risk["total"] == len(wanted) and at_risk["limit"] == 20
        for item in at_risk["items"]:
            key = next(k for k, c in scenario.customers.items() if c.id == item["customer_id"])
            previous = scores[key][2][0]["score"]
            assert item["previous_score"] == previous
            assert item["change"] == pytest.approx(item["score"] - previous)

    def test_sorting_and_paging_the_at_risk_list(self, client, connection, scenario):
        store(connection, scenario.org.id, AS_OF)
        everything = client.get(HEALTH, params={"limit": 100}, headers=scenario.viewer).json()
        items = everything["at_risk"]["items"]
        by_name = client.get(HEALTH, params={"sort": "-name"}, headers=scenario.viewer).json()
        assert [i["name"] for i in by_name["at_risk"]["items"]] == sorted(
            (i["name"] for i in items), reverse=True
        )
        worst_last = client.get(HEALTH, params={"sort": "-score"}, headers=scenario.viewer)
        assert [i["score"] for i in worst_last.json()["at_risk"]["items"]] == sorted(
            (i["score"] for i in items), reverse=True
        )
        page = client.get(HEALTH, params={"skip": 1, "limit": 1}, headers=scenario.viewer).json()
        assert page["at_risk"]["items"] == items[1:2] and page["at_risk"]["total"] == len(items)
        past = client.get(HEALTH, params={"skip": 50}, headers=scenario.viewer).json()
        assert past["at_risk"]["items"] == [] and past["at_risk"]["total"] == len(items)
        for params in ({"sort": "mood"}, {"limit": 101}, {"skip": -1}):
            assert client.get(HEALTH, params=params, headers=scenario.viewer).status_code == 422


class TestCustomersList:
    def test_health_fields_filter_and_sort(self, client, connection, scenario):
        url = "/api/v1/customers"
        before = client.get(url, headers=scenario.viewer).json()["items"]
        assert all(i["health_score"] is None and i["health_band"] is None for i in before)
        store(connection, scenario.org.id, AS_OF)
        items = client.get(url, params={"limit": 100}, headers=scenario.viewer).json()["items"]
        scores = {i["id"]: (i["health_score"], i["health_band"]) for i in items}
        for customer in scenario.customers.values():
            body = client.get(
                f"/api/v1/customers/{customer.id}/health", headers=scenario.viewer
            ).json()
            assert scores[customer.id] == (body["score"], body["band"])
        ranked = client.get(url, params={"sort": "-health_score"}, headers=scenario.viewer)
        got = [i["health_score"] for i in ranked.json()["items"]]
        assert got == sorted(got, reverse=True)
        ranked = client.get(url, params={"sort": "health_score"}, headers=scenario.viewer)
        got = [i["health_score"] for i in ranked.json()["items"]]
        assert got == sorted(got)
        for bands in (["critical"], ["healthy", "at_risk"]):
            response = client.get(url, params={"health_band": bands}, headers=scenario.viewer)
            body = response.json()
            expected = {cid for cid, (_, band) in scores.items() if band in bands}
            assert {i["id"] for i in body["items"]} == expected and body["total"] == len(expected)
        bad = client.get(url, params={"health_band": "fine"}, headers=scenario.viewer)
        assert bad.status_code == 422


def test_jobs_of_kind_health_are_listed_with_the_others(client, session, scenario):
    client.post(f"{HEALTH}/recompute", headers=scenario.analyst)
    jobs = session.execute(
        select(Job).where(Job.org_id == scenario.org.id, Job.kind == "health")
    ).scalars()
    assert len(list(jobs)) == 1
