"""GET /clv/fits/{id}/summary: the CLV distribution and the P(alive) matrix of a fit equal an
independent computation in Python over every estimate the API pages out for the same fit; it is
tenant-scoped, readable by viewers, and 409 while the fit has no estimates."""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal

import pytest

from spendlens.clv.summary import nice_width
from tests.clv.test_endpoints import FITS, WINDOWS, acme_fit  # noqa: F401

RECENCY_EDGES_DAYS = [0, 7, 28, 56, 91, 182, 364, 728]
FREQUENCY_EDGES = [0, 1, 2, 3, 5, 10, 20, 50, 100, 200]


def all_estimates(client, headers, fit_id: int) -> list[dict]:
    items: list[dict] = []
    while True:
        page = client.get(
            f"{FITS}/{fit_id}/estimates",
            params={"skip": len(items), "limit": 100},
            headers=headers,
        ).json()
        items += page["items"]
        if not page["items"] or len(items) >= page["total"]:
            return items


def bucket(value: float, edges: list[int]) -> int:
    """Index of the last edge ≤ value."""
    return max(i for i, edge in enumerate(edges) if edge <= value)


def percentile_disc(ordered: list[Decimal], fraction: float) -> Decimal:
    """PostgreSQL's percentile_disc: the first value whose position reaches the fraction."""
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


@pytest.fixture
def summary_and_estimates(acme_fit, client, auth_headers):  # noqa: F811
    headers = auth_headers("viewer@acme.example")
    response = client.get(f"{FITS}/{acme_fit['id']}/summary", headers=headers)
    assert response.status_code == 200, response.text
    return response.json(), all_estimates(client, headers, acme_fit["id"]), acme_fit


class TestClvDistribution:
    def test_figures_equal_python_over_the_estimates(self, summary_and_estimates):
        summary, estimates, fit = summary_and_estimates
        assert summary["fit_id"] == fit["id"] and summary["currency"] == "USD"
        assert summary["scored_as_of"] == fit["scored_as_of"] == WINDOWS["holdout_end"]
        assert summary["customers"] == len(estimates) == fit["scored_customers"]
        values = sorted(Decimal(e["clv"]) for e in estimates if e["clv"] is not None)
        dist = summary["clv_distribution"]
        assert dist["customers"] == len(values) > 0
        assert dist["without_clv"] == len(estimates) - len(values)
        assert Decimal(dist["clv_total"]) == sum(values)
        assert dist["clv_total"] == fit["score_summary"]["clv_total"]
        assert Decimal(dist["maximum"]) == values[-1]
        assert Decimal(dist["median"]) == percentile_disc(values, 0.5)
        assert dist["cap_quantile"] == 0.99
        assert Decimal(dist["cap"]) == percentile_disc(values, 0.99)

    def test_bins_have_a_round_width_up_to_the_cap_then_one_open_bin(self, summary_and_estimates):
        summary, estimates, _ = summary_and_estimates
        dist = summary["clv_distribution"]
        width, cap = Decimal(dist["bin_width"]), Decimal(dist["cap"])
        mantissa = width.scaleb(-width.adjusted()).normalize()
        assert mantissa in {Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5)}
        bins = dist["bins"]
        regular, last = bins[:-1], bins[-1]
        # The seeded data have a long tail: customers beyond the cap, in the open-ended bin.
        assert last["high"] is None and Decimal(last["low"]) > cap
        assert all(b["high"] is not None for b in regular)
        for k, b in enumerate(regular):
            assert Decimal(b["low"]) == k * width and Decimal(b["high"]) == (k + 1) * width
        assert Decimal(last["low"]) == len(regular) * width
        # The regular bins reach the cap and not a bin further; about 20 of them.
        assert Decimal(regular[-1]["high"]) >= cap > Decimal(regular[-1]["low"])
        assert 10 <= len(regular) <= 20

    def test_bin_counts_and_totals_equal_python(self, summary_and_estimates):
        summary, estimates, _ = summary_and_estimates
        bins = summary["clv_distribution"]["bins"]
        counts: dict[int, int] = defaultdict(int)
        totals: dict[int, Decimal] = defaultdict(Decimal)
        lows = [Decimal(b["low"]) for b in bins]
        for e in estimates:
            if e["clv"] is None:
                continue
            value = Decimal(e["clv"])
            k = max(i for i, low in enumerate(lows) if low <= value)
            counts[k] += 1
            totals[k] += value
        assert [b["customers"] for b in bins] == [counts[k] for k in range(len(bins))]
        assert [Decimal(b["clv_total"]) for b in bins] == [totals[k] for k in range(len(bins))]
        assert sum(b["customers"] for b in bins) == summary["clv_distribution"]["customers"]
        # Skewed money: the first bin holds more customers than the open-ended tail.
        assert bins[0]["customers"] > bins[-1]["customers"] > 0


class TestPAliveMatrix:
    def test_mean_p_alive_per_cell_equals_python(self, summary_and_estimates):
        summary, estimates, _ = summary_and_estimates
        matrix = summary["p_alive"]
        assert matrix["recency_edges_days"] == RECENCY_EDGES_DAYS
        assert matrix["frequency_edges"] == FREQUENCY_EDGES
        assert len(matrix["recency_buckets"]) == len(RECENCY_EDGES_DAYS)
        assert len(matrix["frequency_buckets"]) == len(FREQUENCY_EDGES)
        groups: dict[tuple[int, int], list[float]] = defaultdict(list)
        for e in estimates:
            days = round((e["age"] - e["recency"]) * 7)
            r = bucket(days, RECENCY_EDGES_DAYS)
            f = bucket(e["frequency"], FREQUENCY_EDGES)
            groups[r, f].append(e["p_alive"])
        cells = matrix["cells"]
        assert len(cells) == len(RECENCY_EDGES_DAYS) * len(FREQUENCY_EDGES)
        for i, cell in enumerate(cells):
            r, f = divmod(i, len(FREQUENCY_EDGES))
            assert cell["recency"] == matrix["recency_buckets"][r]
            assert cell["frequency"] == matrix["frequency_buckets"][f]
            values = groups.get((r, f), [])
            assert cell["customers"] == len(values), (cell, r, f)
            if values:
                assert cell["mean_p_alive"] == pytest.approx(sum(values) / len(values))
            else:
                assert cell["mean_p_alive"] is None
        assert sum(c["customers"] for c in cells) == len(estimates)
        assert sum(1 for c in cells if c["customers"]) >= 10

    def test_frequent_buyers_seen_lately_are_likelier_alive_than_long_gone_ones(
        self, summary_and_estimates
    ):
        """The BG/NBD shape: for frequent buyers, P(alive) falls with the time since the last
        purchase (what the heatmap is for)."""
        matrix = summary_and_estimates[0]["p_alive"]
        frequent = [
            c for c in matrix["cells"] if c["frequency"] in ("20–49", "50–99") and c["customers"]
        ]
        recent = [c["mean_p_alive"] for c in frequent if c["recency"] == "< 1 wk"]
        gone = [c["mean_p_alive"] for c in frequent if c["recency"] in ("26–52 wk", "52–104 wk")]
        assert recent and gone
        assert min(recent) > 0.9 > max(gone)


class TestAccess:
    def test_another_organisations_fit_is_404(self, acme_fit, client, auth_headers):  # noqa: F811
        response = client.get(
            f"{FITS}/{acme_fit['id']}/summary", headers=auth_headers("analyst@globex.example")
        )
        assert response.status_code == 404
        assert response.json() == {"error": "NotFound", "detail": "CLV fit not found"}

    def test_without_a_token_is_401(self, acme_fit, client):  # noqa: F811
        assert client.get(f"{FITS}/{acme_fit['id']}/summary").status_code == 401

    def test_a_queued_fit_has_no_summary_yet(self, client, auth_headers):
        headers = auth_headers("analyst@acme.example")
        queued = client.post(FITS, json=WINDOWS, headers=headers).json()
        response = client.get(f"{FITS}/{queued['id']}/summary", headers=headers)
        assert response.status_code == 409
        assert response.json() == {
            "error": "Conflict",
            "detail": "The fit has no estimates yet: its state is queued",
        }


@pytest.mark.parametrize(
    "span,width",
    [
        ("24678.17", "2000"),  # 1233.9 per bin → 2000
        ("100", "5"),
        ("100.01", "10"),  # just over 5 per bin
        ("40", "2"),
        ("45", "2.5"),
        ("0.05", "0.01"),  # never below a cent
        ("0", "0.01"),
        ("9000000", "500000"),
    ],
)
def test_nice_width(span, width):
    assert nice_width(Decimal(span)) == Decimal(width)
