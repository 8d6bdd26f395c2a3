"""CLV API: an analyst fits on the seeded data (the job run in the test's transaction, as a worker
would), the fit shows parameters and the holdout evaluation, and every customer gets estimates;
viewers cannot fit; another organisation's fit is 404; bad windows are 422."""

from __future__ import annotations

import csv
import io
from contextlib import nullcontext
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import Connection, select, text

from spendlens.clv import model
from spendlens.clv.job import execute_fit
from spendlens.jobs.runner import Progress, execute_job
from spendlens.models import ClvEstimate
from spendlens.testing import DEMO_AS_OF
from tests.builders import create_customer, create_org, create_transaction, create_user, headers_for

FITS = "/api/v1/clv/fits"
CUSTOMERS = "/api/v1/customers"
EXPORT = "/api/v1/exports/customers.csv"
# The demo data covers the 24 months ending 2026-06-30 (DEMO_AS_OF): a year of calibration, the
# last 6 months held out.
WINDOWS = {
    "calibration_start": "2024-07-01",
    "calibration_end": "2025-12-31",
    "holdout_end": "2026-06-30",
}


def run_fit_here(connection: Connection, org_id: int, job_id: int):
    """Run a queued fit job on the test's connection, as a worker would."""
    progress = Progress(lambda: nullcontext(connection), org_id, job_id)
    with connection.begin_nested():
        return execute_job(connection, progress, org_id, job_id, execute_fit)


def fit_and_run(client, connection, headers, org_id: int, **body) -> dict:
    response = client.post(FITS, json={**WINDOWS, **body}, headers=headers)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["state"] == "queued"
    assert response.headers["Location"] == f"{FITS}/{accepted['id']}"
    outcome = run_fit_here(connection, org_id, accepted["job_id"])
    assert outcome is not None
    found = client.get(f"{FITS}/{accepted['id']}", headers=headers)
    assert found.status_code == 200
    return found.json()


@pytest.fixture
def acme_fit(client, connection, demo, auth_headers) -> dict:
    return fit_and_run(client, connection, auth_headers("analyst@acme.example"), demo.acme.id)


class TestCreateFit:
    def test_analyst_fits_on_the_seeded_data(self, acme_fit, client, auth_headers):
        fit = acme_fit
        assert fit["state"] == "succeeded", fit
        assert fit["error"] is None
        assert fit["time_unit"] == "week" and fit["currency"] == "USD"
        assert fit["converged"] is True, fit["warnings"]
        for name in ("r", "alpha", "a", "b"):
            assert fit["bgnbd"][name] > 0
        for name in ("p", "q", "v"):
            assert fit["gamma_gamma"][name] > 0
        assert fit["bgnbd"]["log_likelihood"] < 0
        assert 0 < fit["repeat_buyers"] <= fit["customers"]
        evaluation = fit["evaluation"]
        assert evaluation["holdout_start"] == "2026-01-01"
        assert evaluation["holdout_end"] == "2026-06-30"
        assert evaluation["customers"] == fit["customers"]
        assert evaluation["mae"] >= 0 and -1 <= evaluation["correlation"] <= 1
        assert [b["frequency"] for b in evaluation["by_frequency"]] == [
            "0", "1", "2", "3", "4", "5", "6", "7+"
        ]  # fmt: skip
        assert sum(b["customers"] for b in evaluation["by_frequency"]) == fit["customers"]

    def test_the_fit_is_a_tracked_job(self, acme_fit, client, auth_headers):
        job = client.get(
            f"/api/v1/jobs/{acme_fit['job_id']}", headers=auth_headers("viewer@acme.example")
        ).json()
        assert job["kind"] == "clv_fit" and job["state"] == "succeeded"
        assert job["params"]["fit_id"] == acme_fit["id"]
        assert job["params"]["calibration_end"] == WINDOWS["calibration_end"]
        assert job["processed"] == job["total"] == 4
        assert job["result"]["fit_id"] == acme_fit["id"]
        assert job["result"]["customers"] == acme_fit["customers"]

    def test_every_customer_with_a_purchase_gets_estimates(self, acme_fit, session, demo):
        rows = (
            session.execute(
                select(ClvEstimate).where(
                    ClvEstimate.org_id == demo.acme.id, ClvEstimate.fit_id == acme_fit["id"]
                )
            )
            .scalars()
            .all()
        )
        buyers = session.execute(
            text(
                "SELECT count(DISTINCT customer_id) FROM transactions WHERE org_id = :org "
                "AND kind = 'purchase' AND currency = 'USD' AND occurred_at < '2026-07-01'"
            ),
            {"org": demo.acme.id},
        ).scalar_one()
        assert len(rows) == acme_fit["scored_customers"] == buyers
        params = model.BgNbdParams(**{k: acme_fit["bgnbd"][k] for k in ("r", "alpha", "a", "b")})
        spend = model.GammaGammaParams(**{k: acme_fit["gamma_gamma"][k] for k in ("p", "q", "v")})
        x = np.array([e.frequency for e in rows], dtype=float)
        t_x = np.array([e.recency for e in rows])
        T = np.array([e.age for e in rows])
        m = np.array([float(e.monetary) if e.monetary is not None else 0.0 for e in rows])
        assert np.all((0 <= t_x) & (t_x <= T))
        alive = np.array([e.p_alive for e in rows])
        assert alive == pytest.approx(model.probability_alive(params, x, t_x, T))
        purchases = np.array([e.expected_purchases for e in rows])
        expected = model.conditional_expected_purchases(params, 90 / 7, x, t_x, T)
        assert purchases == pytest.approx(expected)
        # m_x is stored in cents: the expected spend is within a cent of the model's.
        per_purchase = model.conditional_expected_spend(spend, x, m)
        stored = np.array([float(e.expected_spend) for e in rows])
        assert np.abs(stored - per_purchase).max() <= 0.01
        # Undiscounted: CLV = E[Y(365 days)] · E[M]; m_x was rounded to cents on the way.
        value = model.conditional_expected_purchases(params, 365 / 7, x, t_x, T) * per_purchase
        assert np.array([float(e.clv) for e in rows]) == pytest.approx(value, rel=1e-3, abs=0.01)

    def test_discounting_lowers_lifetime_value(self, client, connection, demo, auth_headers):
        headers = auth_headers("analyst@acme.example")
        plain = fit_and_run(client, connection, headers, demo.acme.id)
        discounted = fit_and_run(
            client, connection, headers, demo.acme.id, monthly_discount_rate="0.02"
        )
        assert discounted["monthly_discount_rate"] == "0.0200"
        assert discounted["bgnbd"]["r"] == pytest.approx(plain["bgnbd"]["r"])
        totals = dict(
            connection.execute(
                text(
                    "SELECT fit_id, sum(clv) FROM clv_estimates WHERE fit_id IN (:a, :b) "
                    "GROUP BY fit_id"
                ),
                {"a": plain["id"], "b": discounted["id"]},
            ).all()
        )
        assert totals[discounted["id"]] < totals[plain["id"]]

    def test_without_a_holdout_there_is_no_evaluation(self, client, connection, demo, auth_headers):
        fit = fit_and_run(
            client,
            connection,
            auth_headers("admin@acme.example"),
            demo.acme.id,
            holdout_end=None,
            calibration_end="2026-06-30",
        )
        assert fit["state"] == "succeeded" and fit["evaluation"] is None
        assert fit["scored_as_of"] == "2026-06-30"

    def test_too_few_customers_fail_the_job_for_good(self, client, connection, session):
        org = create_org(session)
        headers = headers_for(create_user(session, org, role="analyst"))
        customer = create_customer(session, org)
        create_transaction(session, org, customer, occurred_at=datetime(2025, 3, 1, tzinfo=UTC))
        fit = fit_and_run(client, connection, headers, org.id)
        assert fit["state"] == "failed"
        assert fit["error"].startswith("Too few customers to fit: 1 ")
        assert fit["bgnbd"] is None and fit["evaluation"] is None
        job = client.get(f"/api/v1/jobs/{fit['job_id']}", headers=headers).json()
        assert job["state"] == "failed" and job["result"]["retryable"] is False

    def test_viewer_cannot_fit(self, client, auth_headers):
        response = client.post(FITS, json=WINDOWS, headers=auth_headers("viewer@acme.example"))
        assert response.status_code == 403
        assert response.json()["error"] == "Forbidden"


class TestScoreSummary:
    def test_totals_and_histogram_equal_sql_over_the_estimates(self, acme_fit, connection):
        summary = acme_fit["score_summary"]
        row = connection.execute(
            text(
                "SELECT count(*), sum(clv), avg(p_alive), sum(expected_purchases) "
                "FROM clv_estimates WHERE fit_id = :fit"
            ),
            {"fit": acme_fit["id"]},
        ).one()
        assert summary["customers"] == row[0] == acme_fit["scored_customers"]
        assert summary["clv_total"] == f"{row[1]:.2f}"
        assert Decimal(summary["clv_mean"]) == (row[1] / row[0]).quantize(Decimal("0.01"))
        assert summary["mean_p_alive"] == pytest.approx(row[2])
        assert summary["expected_purchases_total"] == pytest.approx(row[3])
        bins = summary["p_alive_histogram"]
        assert [(b["low"], b["high"]) for b in bins] == [(k / 10, (k + 1) / 10) for k in range(10)]
        counts = dict(
            connection.execute(
                text(
                    "SELECT least(floor(p_alive * 10), 9), count(*) FROM clv_estimates "
                    "WHERE fit_id = :fit GROUP BY 1"
                ),
                {"fit": acme_fit["id"]},
            ).all()
        )
        assert [b["customers"] for b in bins] == [counts.get(k, 0) for k in range(10)]


class TestListEstimates:
    @pytest.mark.parametrize(
        "sort", [None, "clv", "-p_alive", "p_alive", "-expected_purchases", "expected_purchases"]
    )
    def test_sorted_pages_with_customer_names(
        self, acme_fit, client, connection, auth_headers, sort
    ):
        estimates = latest_estimates(connection, acme_fit["id"])
        column = (sort or "-clv").lstrip("-")
        descending = sort is None or sort.startswith("-")
        expected = sorted(
            estimates, key=lambda c: (getattr(estimates[c], column), c), reverse=descending
        )
        params = {"limit": 100, "skip": 100} | ({"sort": sort} if sort else {})
        response = client.get(
            f"{FITS}/{acme_fit['id']}/estimates",
            params=params,
            headers=auth_headers("viewer@acme.example"),
        )
        assert response.status_code == 200
        body = response.json()
        assert body["total"] == len(estimates) and body["skip"] == 100
        assert [i["customer_id"] for i in body["items"]] == expected[100:200]
        first = body["items"][0]
        row = estimates[first["customer_id"]]
        assert first["clv"] == f"{row.clv:.2f}" and first["p_alive"] == pytest.approx(row.p_alive)
        assert first["name"] and first["external_id"].startswith("C")

    def test_another_organisations_fit_is_404(self, acme_fit, client, auth_headers):
        response = client.get(
            f"{FITS}/{acme_fit['id']}/estimates", headers=auth_headers("analyst@globex.example")
        )
        assert response.status_code == 404
        assert response.json() == {"error": "NotFound", "detail": "CLV fit not found"}

    def test_unknown_sort_is_422(self, acme_fit, client, auth_headers):
        response = client.get(
            f"{FITS}/{acme_fit['id']}/estimates",
            params={"sort": "name"},
            headers=auth_headers("viewer@acme.example"),
        )
        assert response.status_code == 422


class TestBadInput:
    @pytest.mark.parametrize(
        "change,field",
        [
            ({"calibration_end": "2024-07-01"}, "calibration_end"),
            ({"calibration_end": "2024-06-01"}, "calibration_end"),
            ({"holdout_end": "2025-12-31"}, "holdout_end"),
            ({"holdout_end": "2025-06-30"}, "holdout_end"),
            ({"holdout_end": "2099-01-01"}, "holdout_end"),
            ({"calibration_end": "2099-01-01", "holdout_end": None}, "calibration_end"),
            ({"calibration_start": "2099-01-01", "calibration_end": "2099-02-01"}, None),
            ({"purchases_horizon_days": 0}, "purchases_horizon_days"),
            ({"clv_horizon_days": 4000}, "clv_horizon_days"),
            ({"monthly_discount_rate": "-0.01"}, "monthly_discount_rate"),
            ({"calibration_start": "last year"}, "calibration_start"),
            ({"surprise": 1}, "surprise"),
        ],
    )
    def test_bad_windows_and_options_are_422(self, client, auth_headers, change, field):
        body = {**WINDOWS, **change}
        response = client.post(FITS, json=body, headers=auth_headers("analyst@acme.example"))
        assert response.status_code == 422, response.text
        error = response.json()
        assert error["error"] == "ValidationError"
        if field:
            assert error["detail"][0]["loc"][-1] == field

    def test_missing_dates_are_422(self, client, auth_headers):
        response = client.post(FITS, json={}, headers=auth_headers("analyst@acme.example"))
        assert response.status_code == 422
        assert {d["loc"][-1] for d in response.json()["detail"]} == {
            "calibration_start",
            "calibration_end",
        }


class TestReadFits:
    def test_list_newest_first_within_the_organisation(
        self, client, connection, demo, auth_headers
    ):
        headers = auth_headers("analyst@acme.example")
        older = fit_and_run(client, connection, headers, demo.acme.id)
        newer = client.post(FITS, json=WINDOWS, headers=headers).json()  # still queued
        page = client.get(FITS, headers=auth_headers("viewer@acme.example")).json()
        assert [f["id"] for f in page["items"]][:2] == [newer["id"], older["id"]]
        assert page["total"] == 2 and page["items"][0]["state"] == "queued"
        assert page["items"][1] == older
        globex = client.get(FITS, headers=auth_headers("analyst@globex.example")).json()
        assert globex["total"] == 0 and globex["items"] == []

    def test_another_organisations_fit_is_404_like_a_missing_one(
        self, acme_fit, client, auth_headers
    ):
        headers = auth_headers("analyst@globex.example")
        other = client.get(f"{FITS}/{acme_fit['id']}", headers=headers)
        missing = client.get(f"{FITS}/999999999", headers=headers)
        assert other.status_code == missing.status_code == 404
        assert (
            other.json() == missing.json() == {"error": "NotFound", "detail": "CLV fit not found"}
        )


def latest_estimates(connection, fit_id: int) -> dict[int, tuple]:
    return {
        row.customer_id: row
        for row in connection.execute(
            text(
                "SELECT customer_id, expected_purchases, p_alive, expected_spend, clv "
                "FROM clv_estimates WHERE fit_id = :fit"
            ),
            {"fit": fit_id},
        )
    }


class TestCustomersWithClv:
    def test_detail_has_no_clv_block_before_a_fit(self, client, demo, session, auth_headers):
        customer_id = session.execute(
            text("SELECT min(id) FROM customers WHERE org_id = :org"), {"org": demo.acme.id}
        ).scalar_one()
        body = client.get(f"{CUSTOMERS}/{customer_id}", headers=auth_headers("viewer@acme.example"))
        assert body.status_code == 200 and body.json()["clv"] is None

    def test_detail_shows_the_latest_fit(self, client, connection, demo, auth_headers, acme_fit):
        estimates = latest_estimates(connection, acme_fit["id"])
        customer_id = max(estimates, key=lambda c: estimates[c].clv)
        body = client.get(
            f"{CUSTOMERS}/{customer_id}", headers=auth_headers("viewer@acme.example")
        ).json()
        clv = body["clv"]
        row = estimates[customer_id]
        assert clv["fit_id"] == acme_fit["id"] and clv["as_of"] == "2026-06-30"
        assert clv["purchases_horizon_days"] == 90 and clv["clv_horizon_days"] == 365
        assert clv["expected_purchases"] == pytest.approx(row.expected_purchases)
        assert clv["p_alive"] == pytest.approx(row.p_alive)
        assert (
            clv["clv"] == f"{row.clv:.2f}" and clv["expected_spend"] == f"{row.expected_spend:.2f}"
        )
        # A later fit takes over.
        later = fit_and_run(
            client, connection, auth_headers("analyst@acme.example"), demo.acme.id,
            clv_horizon_days=730,
        )  # fmt: skip
        again = client.get(
            f"{CUSTOMERS}/{customer_id}", headers=auth_headers("viewer@acme.example")
        ).json()["clv"]
        assert again["fit_id"] == later["id"] and again["clv_horizon_days"] == 730
        assert Decimal(again["clv"]) > Decimal(clv["clv"])

    @pytest.mark.parametrize(
        "sort,column",
        [("-clv", "clv"), ("clv", "clv"), ("-p_alive", "p_alive"), ("p_alive", "p_alive")],
    )
    def test_list_sorts_by_clv_and_p_alive_with_unscored_customers_last(
        self, client, connection, session, demo, auth_headers, acme_fit, sort, column
    ):
        newcomer = create_customer(session, demo.acme, name="Newcomer Without Purchases")
        estimates = latest_estimates(connection, acme_fit["id"])
        descending = sort.startswith("-")
        expected = sorted(
            estimates,
            key=lambda c: (getattr(estimates[c], column), c),
            reverse=descending,
        )
        items, skip = [], 0
        headers = auth_headers("viewer@acme.example")
        while True:
            page = client.get(
                CUSTOMERS, params={"sort": sort, "skip": skip, "limit": 100}, headers=headers
            ).json()
            items += [i["id"] for i in page["items"]]
            skip += 100
            if skip >= page["total"]:
                break
        assert items[: len(expected)] == expected
        assert newcomer.id in items[len(expected) :]

    def test_list_items_carry_the_latest_segment_and_clv(
        self, client, connection, demo, auth_headers, acme_fit
    ):
        """Each customer of a page shows their segment in the latest stored snapshot and their
        CLV and P(alive) from the latest fit, as the detail does."""
        from tests.segments.helpers import store, stored

        store(connection, demo.acme.id, DEMO_AS_OF)
        segments = {
            c: rfm.segment for c, rfm in stored(connection, demo.acme.id, DEMO_AS_OF).items()
        }
        estimates = latest_estimates(connection, acme_fit["id"])
        headers = auth_headers("viewer@acme.example")
        for sort in ("-clv", "name"):
            page = client.get(CUSTOMERS, params={"sort": sort, "limit": 50}, headers=headers)
            assert page.status_code == 200, page.text
            for item in page.json()["items"]:
                estimate = estimates.get(item["id"])
                assert item["segment"] == segments.get(item["id"])
                if estimate is None:
                    assert (item["clv"], item["p_alive"]) == (None, None)
                else:
                    assert item["clv"] == f"{estimate.clv:.2f}"
                    assert item["p_alive"] == pytest.approx(float(estimate.p_alive))
        top = client.get(CUSTOMERS, params={"sort": "-clv", "limit": 1}, headers=headers).json()
        assert top["items"][0]["segment"] is not None and top["items"][0]["clv"] is not None

    def test_export_adds_clv_columns_only_on_request(
        self, client, connection, demo, auth_headers, acme_fit
    ):
        headers = auth_headers("viewer@acme.example")
        plain = client.get(EXPORT, headers=headers)
        assert plain.text.splitlines()[0] == (
            "external_id,name,email,country,signup_date,lifecycle_stage,total_spend,"
            "transaction_count,first_purchase,last_purchase"
        )
        response = client.get(EXPORT, params={"include": "clv"}, headers=headers)
        assert response.status_code == 200
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert list(rows[0])[-4:] == ["expected_purchases", "p_alive", "expected_spend", "clv"]
        estimates = latest_estimates(connection, acme_fit["id"])
        by_external_id = dict(
            connection.execute(
                text("SELECT external_id, id FROM customers WHERE org_id = :org"),
                {"org": demo.acme.id},
            ).all()
        )
        for row in rows:
            estimate = estimates.get(by_external_id[row["external_id"]])
            if estimate is None:  # a demo lead, who never bought: nothing to estimate
                assert row["transaction_count"] == "0" and row["clv"] == ""
                continue
            assert row["clv"] == f"{estimate.clv:.2f}"
            assert row["expected_spend"] == f"{estimate.expected_spend:.2f}"
            assert row["p_alive"] == f"{estimate.p_alive:.4f}"
            assert row["expected_purchases"] == f"{estimate.expected_purchases:.4f}"

    def test_export_of_a_customer_without_an_estimate_has_empty_clv_cells(
        self, client, session, demo, auth_headers
    ):
        create_customer(session, demo.acme, external_id="ZZ-NEW")
        response = client.get(
            EXPORT,
            params={"include": "clv", "q": "ZZ-NEW"},
            headers=auth_headers("viewer@acme.example"),
        )
        row = next(csv.DictReader(io.StringIO(response.text)))
        assert [row[c] for c in ("expected_purchases", "p_alive", "expected_spend", "clv")] == [
            ""
        ] * 4
