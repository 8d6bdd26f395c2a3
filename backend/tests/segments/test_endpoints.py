"""Segments API: the overview, the movement and the customers' RFM equal the independent
computation whether a snapshot is stored or computed on the fly; settings are admin-only and
validated; recompute queues a job; tenants never see each other's segments; bad input gets 422."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest

from spendlens.models import Job, RfmSnapshot
from spendlens.testing import DEMO_AS_OF
from tests.builders import create_customer, create_org, create_transaction, create_user, headers_for
from tests.segments import reference
from tests.segments.helpers import (
    CUSTOMER_RFM,
    SEGMENTS,
    fetch_all,
    from_api,
    run_rfm_job_here,
    store,
)

EARLIER = date(2026, 3, 31)


def ratio(part, whole) -> float:
    if whole == 0:
        return 0.0
    quotient = (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    return float(quotient)


def mean(values) -> float:
    total = sum(Decimal(v) for v in values)
    return float((total / len(values)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def expected_overview(expected: dict[int, reference.Rfm]) -> list[dict]:
    by_segment = defaultdict(list)
    for row in expected.values():
        by_segment[row.segment].append(row)
    revenue = sum((r.monetary for r in expected.values()), Decimal("0.00"))
    items = []
    for segment in reference.SEGMENT_ORDER:
        rows = by_segment.get(segment, [])
        spend = sum((r.monetary for r in rows), Decimal("0.00"))
        items.append(
            {
                "segment": segment,
                "customers": len(rows),
                "share": ratio(len(rows), len(expected)),
                "revenue": f"{spend:.2f}",
                "revenue_share": ratio(spend, revenue),
                "average_recency_days": mean([r.recency_days for r in rows]) if rows else None,
                "average_frequency": mean([r.frequency for r in rows]) if rows else None,
                "average_monetary": (
                    f"{Decimal(str(mean([r.monetary for r in rows]))):.2f}" if rows else None
                ),
                "average_r_score": mean([r.r_score for r in rows]) if rows else None,
                "average_f_score": mean([r.f_score for r in rows]) if rows else None,
                "average_m_score": mean([r.m_score for r in rows]) if rows else None,
            }
        )
    return items


def without_text(items: list[dict]) -> list[dict]:
    return [{k: v for k, v in i.items() if k not in ("label", "description")} for i in items]


class TestGetSegments:
    def test_stored_snapshot_matches_independent_computation(
        self, client, connection, demo, acme_ref, viewer
    ):
        store(connection, demo.acme.id, DEMO_AS_OF)
        response = client.get(SEGMENTS, headers=viewer)
        assert response.status_code == 200, response.text
        body = response.json()
        expected = reference.rfm(acme_ref, DEMO_AS_OF)
        assert (body["as_of"], body["source"], body["settings_version"]) == (
            "2026-06-30",
            "stored",
            0,
        )
        assert body["currency"] == "USD" and body["customers"] == len(expected)
        assert body["revenue"] == f"{sum(r.monetary for r in expected.values()):.2f}"
        assert without_text(body["segments"]) == expected_overview(expected)
        assert body["segments"][7]["label"] == "Can't Lose Them"

    def test_a_day_without_snapshot_is_computed_the_same_way(
        self, client, connection, demo, acme_ref, viewer
    ):
        store(connection, demo.acme.id, DEMO_AS_OF)  # a stored day that is not the one asked
        response = client.get(SEGMENTS, params={"as_of": EARLIER.isoformat()}, headers=viewer)
        body = response.json()
        assert (body["as_of"], body["source"]) == ("2026-03-31", "computed")
        assert without_text(body["segments"]) == expected_overview(reference.rfm(acme_ref, EARLIER))

    def test_without_any_snapshot_today_is_computed(self, client, session):
        org = create_org(session, timezone="Asia/Tokyo")
        customer = create_customer(session, org)
        create_transaction(session, org, customer, occurred_at=datetime.now(UTC), amount="9.99")
        headers = headers_for(create_user(session, org, role="viewer"))
        body = client.get(SEGMENTS, headers=headers).json()
        today = datetime.now(ZoneInfo("Asia/Tokyo")).date()
        assert (body["as_of"], body["source"], body["customers"]) == (
            today.isoformat(),
            "computed",
            1,
        )
        assert [s["customers"] for s in body["segments"]] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        assert body["segments"][1]["average_r_score"] is None

    def test_globex_sees_only_globex(self, client, connection, demo, auth_headers):
        store(connection, demo.acme.id, DEMO_AS_OF)
        body = client.get(SEGMENTS, headers=auth_headers("analyst@globex.example")).json()
        assert body["currency"] == "EUR" and body["source"] == "computed"
        globex_customers = connection.exec_driver_sql(
            "SELECT count(DISTINCT customer_id) FROM transactions "
            f"WHERE org_id = {demo.globex.id} AND kind = 'purchase'"
        ).scalar_one()
        assert body["customers"] == globex_customers

    @pytest.mark.parametrize("as_of", ["2999-01-01", "not-a-date", "2026-02-30"])
    def test_bad_or_future_day_is_422(self, client, viewer, as_of):
        response = client.get(SEGMENTS, params={"as_of": as_of}, headers=viewer)
        assert response.status_code == 422
        assert response.json()["error"] == "ValidationError"


class TestSegmentMovement:
    def test_counts_match_independent_computation(self, client, connection, demo, acme_ref, viewer):
        store(connection, demo.acme.id, DEMO_AS_OF)  # `to` stored, `from` computed
        frm = date(2025, 6, 30)
        response = client.get(
            f"{SEGMENTS}/movement",
            params={"from": frm.isoformat(), "to": DEMO_AS_OF.isoformat()},
            headers=viewer,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["from_source"], body["to_source"]) == ("computed", "stored")
        before, after = reference.rfm(acme_ref, frm), reference.rfm(acme_ref, DEMO_AS_OF)
        expected = Counter(
            (before[c].segment if c in before else None, after[c].segment if c in after else None)
            for c in set(before) | set(after)
        )
        got = {(m["from_segment"], m["to_segment"]): m["customers"] for m in body["moves"]}
        assert got == dict(expected)
        assert any(f is None for f, _ in got)  # customers who started buying in between
        order = reference.SEGMENT_ORDER + [None]
        keys = [
            (order.index(m["from_segment"]), order.index(m["to_segment"])) for m in body["moves"]
        ]
        assert keys == sorted(keys)

    def test_both_days_stored(self, client, connection, demo, acme_ref, viewer):
        store(connection, demo.acme.id, EARLIER)
        store(connection, demo.acme.id, DEMO_AS_OF)
        body = client.get(
            f"{SEGMENTS}/movement",
            params={"from": EARLIER.isoformat(), "to": DEMO_AS_OF.isoformat()},
            headers=viewer,
        ).json()
        assert (body["from_source"], body["to_source"]) == ("stored", "stored")
        stays = sum(m["customers"] for m in body["moves"] if m["from_segment"] == m["to_segment"])
        before, after = reference.rfm(acme_ref, EARLIER), reference.rfm(acme_ref, DEMO_AS_OF)
        assert stays == sum(
            1 for c in before if c in after and before[c].segment == after[c].segment
        )

    @pytest.mark.parametrize(
        "params",
        [
            {"from": "2026-06-30", "to": "2026-06-30"},
            {"from": "2026-06-30", "to": "2026-01-01"},
            {"from": "2026-01-01"},
            {"to": "2026-01-01"},
            {"from": "2026-01-01", "to": "2999-01-01"},
        ],
    )
    def test_bad_days_are_422(self, client, viewer, params):
        response = client.get(f"{SEGMENTS}/movement", params=params, headers=viewer)
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "ValidationError"


class TestListCustomerRfm:
    def test_every_customer_matches_independent_computation(
        self, client, connection, demo, acme_ref, viewer
    ):
        store(connection, demo.acme.id, DEMO_AS_OF)
        items = fetch_all(client, viewer, CUSTOMER_RFM)
        expected = reference.rfm(acme_ref, DEMO_AS_OF)
        assert {i["customer_id"]: from_api(i) for i in items} == expected
        # Default order: monetary descending, ties by customer id descending.
        keys = [(Decimal(i["monetary"]), i["customer_id"]) for i in items]
        assert keys == sorted(keys, reverse=True)
        first = items[0]
        assert first["as_of"] == "2026-06-30" and first["settings_version"] == 0
        assert set(first) == {
            "as_of",
            "customer_id",
            "external_id",
            "name",
            "email",
            "recency_days",
            "frequency",
            "monetary",
            "r_score",
            "f_score",
            "m_score",
            "segment",
            "segment_label",
            "settings_version",
        }

    def test_filters_and_sorting_on_a_computed_day(self, client, demo, acme_ref, viewer):
        expected = reference.rfm(acme_ref, EARLIER)
        params = {
            "as_of": EARLIER.isoformat(),
            "segment": ["at_risk", "champions"],
            "r_score": [1, 5],
            "sort": "recency",
        }
        items = fetch_all(client, viewer, CUSTOMER_RFM, params)
        wanted = {
            c: r
            for c, r in expected.items()
            if r.segment in ("at_risk", "champions") and r.r_score in (1, 5)
        }
        assert {i["customer_id"]: from_api(i) for i in items} == wanted
        assert [(i["recency_days"], i["customer_id"]) for i in items] == sorted(
            (r.recency_days, c) for c, r in wanted.items()
        )

    def test_pages_and_a_page_past_the_end(self, client, connection, demo, viewer):
        store(connection, demo.acme.id, DEMO_AS_OF)
        params = {"m_score": 5, "sort": "name", "limit": 7}
        first = client.get(CUSTOMER_RFM, params=params, headers=viewer).json()
        second = client.get(CUSTOMER_RFM, params={**params, "skip": 7}, headers=viewer).json()
        past = client.get(CUSTOMER_RFM, params={**params, "skip": 5000}, headers=viewer).json()
        assert first["total"] == second["total"] == past["total"] > 14
        assert (first["skip"], first["limit"], len(first["items"])) == (0, 7, 7)
        ids = [i["customer_id"] for i in first["items"] + second["items"]]
        assert len(set(ids)) == 14 and all(i["m_score"] == 5 for i in first["items"])
        assert past["items"] == []

    @pytest.mark.parametrize(
        "params",
        [{"r_score": 0}, {"f_score": 6}, {"m_score": "x"}, {"segment": "vip"}, {"sort": "age"}],
    )
    def test_bad_filters_are_422(self, client, viewer, params):
        response = client.get(CUSTOMER_RFM, params=params, headers=viewer)
        assert response.status_code == 422
        assert response.json()["error"] == "ValidationError"

    def test_another_organisations_customers_never_appear(self, client, connection, session, demo):
        store(connection, demo.acme.id, DEMO_AS_OF)
        org = create_org(session)
        headers = headers_for(create_user(session, org, role="viewer"))
        body = client.get(CUSTOMER_RFM, headers=headers).json()
        assert body == {"items": [], "total": 0, "skip": 0, "limit": 20}


class TestSettings:
    def test_default_is_quantiles_version_0(self, client, viewer):
        body = client.get(f"{SEGMENTS}/settings", headers=viewer).json()
        assert body == {
            "version": 0,
            "recency": None,
            "frequency": None,
            "monetary": None,
            "methods": {"recency": "quantile", "frequency": "quantile", "monetary": "quantile"},
            "updated_at": None,
            "updated_by": None,
        }

    def test_admin_sets_cut_points_and_the_next_recompute_uses_them(
        self, client, connection, session, demo, acme_ref, auth_headers
    ):
        admin = auth_headers("admin@acme.example")
        cuts = {
            "recency": [10, 30, 60, 120],
            "frequency": None,
            "monetary": ["100", 250.5, 1000, "5000.00"],
        }
        response = client.put(f"{SEGMENTS}/settings", json=cuts, headers=admin)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["version"] == 1 and body["monetary"] == [
            "100.00",
            "250.50",
            "1000.00",
            "5000.00",
        ]
        assert body["methods"] == {
            "recency": "cut_points",
            "frequency": "quantile",
            "monetary": "cut_points",
        }
        assert body["updated_by"] is not None and body["updated_at"] is not None
        assert (
            client.get(f"{SEGMENTS}/settings", headers=auth_headers("viewer@acme.example")).json()
            == body
        )

        store(connection, demo.acme.id, DEMO_AS_OF)
        expected = reference.rfm(
            acme_ref,
            DEMO_AS_OF,
            recency_cuts=[10, 30, 60, 120],
            monetary_cuts=[Decimal("100"), Decimal("250.50"), Decimal("1000"), Decimal("5000")],
        )
        items = fetch_all(client, admin, CUSTOMER_RFM)
        assert {i["customer_id"]: from_api(i) for i in items} == expected
        assert {i["settings_version"] for i in items} == {1}
        again = client.put(
            f"{SEGMENTS}/settings",
            json={"recency": None, "frequency": None, "monetary": None},
            headers=admin,
        )
        assert again.json()["version"] == 2
        # Earlier versions stay readable, for the snapshots scored with them.
        settings = f"{SEGMENTS}/settings"
        assert client.get(settings, params={"version": 1}, headers=admin).json() == body
        assert client.get(settings, headers=admin).json()["version"] == 2
        assert client.get(settings, params={"version": 0}, headers=admin).json()["version"] == 0
        assert client.get(settings, params={"version": 3}, headers=admin).status_code == 404
        # The stored snapshot keeps the version it was computed with.
        assert session.get(RfmSnapshot, (demo.acme.id, DEMO_AS_OF)).settings_version == 1

    @pytest.mark.parametrize(
        "body, where",
        [
            ({"recency": [1, 2, 3], "frequency": None, "monetary": None}, "recency"),
            ({"recency": [1, 2, 3, 4, 5], "frequency": None, "monetary": None}, "recency"),
            ({"recency": [1, 2, 2, 4], "frequency": None, "monetary": None}, "recency"),
            ({"recency": [4, 3, 2, 1], "frequency": None, "monetary": None}, "recency"),
            ({"recency": [-1, 2, 3, 4], "frequency": None, "monetary": None}, "recency"),
            ({"recency": None, "frequency": [0, 1, 2, 3], "monetary": None}, "frequency"),
            ({"recency": None, "frequency": [1.5, 2, 3, 4], "monetary": None}, "frequency"),
            ({"recency": None, "frequency": None, "monetary": [1, 2, 3, "4.001"]}, "monetary"),
            ({"recency": None, "frequency": None, "monetary": [1, 2, 3, "NaN"]}, "monetary"),
            ({"recency": None, "frequency": None}, "monetary"),
            ({"recency": None, "frequency": None, "monetary": None, "x": 1}, "x"),
        ],
    )
    def test_bad_settings_are_422(self, client, auth_headers, body, where):
        response = client.put(
            f"{SEGMENTS}/settings", json=body, headers=auth_headers("admin@acme.example")
        )
        assert response.status_code == 422, response.text
        error = response.json()
        assert error["error"] == "ValidationError"
        assert any(where in d["loc"] for d in error["detail"]), error

    def test_only_admins_change_settings(self, client, auth_headers):
        body = {"recency": None, "frequency": None, "monetary": None}
        response = client.put(
            f"{SEGMENTS}/settings", json=body, headers=auth_headers("analyst@acme.example")
        )
        assert response.status_code == 403

    def test_settings_are_per_organisation(self, client, auth_headers):
        body = {"recency": [1, 2, 3, 4], "frequency": None, "monetary": None}
        client.put(f"{SEGMENTS}/settings", json=body, headers=auth_headers("admin@acme.example"))
        globex = client.get(f"{SEGMENTS}/settings", headers=auth_headers("analyst@globex.example"))
        assert globex.json()["version"] == 0


class TestRecompute:
    def test_queues_a_job_that_stores_the_snapshot(
        self, client, connection, session, demo, acme_ref, auth_headers
    ):
        analyst = auth_headers("analyst@acme.example")
        response = client.post(
            f"{SEGMENTS}/recompute", json={"as_of": EARLIER.isoformat()}, headers=analyst
        )
        assert response.status_code == 202, response.text
        job = response.json()
        assert response.headers["location"] == f"/api/v1/jobs/{job['id']}"
        assert (job["kind"], job["state"], job["params"]) == (
            "rfm",
            "queued",
            {"as_of": "2026-03-31", "trigger": "api"},
        )
        run_rfm_job_here(connection, demo.acme.id, job["id"])
        session.expire_all()
        done = client.get(f"/api/v1/jobs/{job['id']}", headers=analyst).json()
        expected = reference.rfm(acme_ref, EARLIER)
        assert done["state"] == "succeeded" and done["result"]["customers"] == len(expected)
        snapshots = client.get(f"{SEGMENTS}/snapshots", headers=analyst).json()
        assert snapshots["total"] == 1
        assert snapshots["items"][0]["as_of"] == "2026-03-31"
        assert snapshots["items"][0]["job_id"] == job["id"]
        overview = client.get(SEGMENTS, headers=analyst).json()
        assert (overview["as_of"], overview["source"]) == ("2026-03-31", "stored")

    def test_without_a_body_it_computes_today_in_the_organisations_zone(self, client, session):
        org = create_org(session, timezone="Pacific/Kiritimati")
        headers = headers_for(create_user(session, org, role="analyst"))
        job = client.post(f"{SEGMENTS}/recompute", headers=headers).json()
        assert (
            job["params"]["as_of"]
            == datetime.now(ZoneInfo("Pacific/Kiritimati")).date().isoformat()
        )
        assert session.get(Job, (org.id, job["id"])).created_by is not None

    def test_future_day_is_422_and_viewers_are_403(self, client, auth_headers):
        tomorrow_anywhere = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
        response = client.post(
            f"{SEGMENTS}/recompute",
            json={"as_of": tomorrow_anywhere},
            headers=auth_headers("analyst@acme.example"),
        )
        assert response.status_code == 422
        viewer = client.post(f"{SEGMENTS}/recompute", headers=auth_headers("viewer@acme.example"))
        assert viewer.status_code == 403
