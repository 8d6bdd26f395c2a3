"""GET /segments/grid: customers and revenue per recency score × frequency score equal an
independent computation (reference.py, plain Python over the transactions) for a stored snapshot
and for a day computed on the fly, agree with the customers' RFM listing and the overview, and
never show another organisation's customers."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from spendlens.testing import DEMO_AS_OF
from tests.builders import create_customer, create_org, create_transaction, create_user, headers_for
from tests.segments import reference
from tests.segments.helpers import CUSTOMER_RFM, SEGMENTS, fetch_all, store

GRID = f"{SEGMENTS}/grid"
EARLIER = date(2026, 3, 31)


def expected_cells(expected: dict[int, reference.Rfm]) -> list[dict]:
    """The 25 cells from every customer's reference RFM: R 5 … 1, then F 1 … 5."""
    members: dict[tuple[int, int], list[reference.Rfm]] = defaultdict(list)
    for row in expected.values():
        members[row.r_score, row.f_score].append(row)
    cells = []
    for r in (5, 4, 3, 2, 1):
        for f in (1, 2, 3, 4, 5):
            rows = members.get((r, f), [])
            by_segment = Counter(row.segment for row in rows)
            ordered = [s for s in reference.SEGMENT_ORDER if by_segment[s]]
            top = max((by_segment[s] for s in ordered), default=0)
            share = Decimal(len(rows)) / len(expected) if expected else Decimal(0)
            cells.append(
                {
                    "recency_score": r,
                    "frequency_score": f,
                    "customers": len(rows),
                    "share": float(share.quantize(Decimal("0.0001"), rounding="ROUND_HALF_UP")),
                    "revenue": f"{sum((row.monetary for row in rows), Decimal('0.00')):.2f}",
                    "segment": next((s for s in ordered if by_segment[s] == top), None),
                    "segments": [{"segment": s, "customers": by_segment[s]} for s in ordered],
                }
            )
    return cells


def get_grid(client, headers, **params) -> dict:
    response = client.get(GRID, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


class TestGrid:
    def test_stored_snapshot_matches_independent_computation(
        self, client, connection, demo, acme_ref, viewer
    ):
        store(connection, demo.acme.id, DEMO_AS_OF)
        body = get_grid(client, viewer)  # default: the latest stored snapshot
        expected = reference.rfm(acme_ref, DEMO_AS_OF)
        assert (body["as_of"], body["source"], body["settings_version"]) == (
            "2026-06-30",
            "stored",
            0,
        )
        assert (body["currency"], body["customers"]) == ("USD", len(expected))
        assert body["revenue"] == f"{sum(r.monetary for r in expected.values()):.2f}"
        assert body["cells"] == expected_cells(expected)
        # Not a degenerate answer: several cells filled, and some cell mixes segments.
        assert sum(1 for c in body["cells"] if c["customers"]) >= 10
        assert any(len(c["segments"]) > 1 for c in body["cells"])

    def test_a_day_without_snapshot_is_computed_the_same_way(
        self, client, connection, demo, acme_ref, viewer
    ):
        store(connection, demo.acme.id, DEMO_AS_OF)  # stored, but not the day asked
        body = get_grid(client, viewer, as_of=EARLIER.isoformat())
        assert (body["as_of"], body["source"]) == ("2026-03-31", "computed")
        assert body["cells"] == expected_cells(reference.rfm(acme_ref, EARLIER))

    def test_a_stored_snapshot_keeps_its_scores_when_the_settings_change(
        self, client, connection, demo, acme_ref, auth_headers
    ):
        store(connection, demo.acme.id, DEMO_AS_OF)
        admin = auth_headers("admin@acme.example")
        cuts = {"recency": [10, 30, 60, 120], "frequency": [1, 2, 4, 8], "monetary": None}
        assert client.put(f"{SEGMENTS}/settings", json=cuts, headers=admin).status_code == 200
        stored = get_grid(client, admin, as_of=DEMO_AS_OF.isoformat())
        assert (stored["source"], stored["settings_version"]) == ("stored", 0)
        assert stored["cells"] == expected_cells(reference.rfm(acme_ref, DEMO_AS_OF))
        computed = get_grid(client, admin, as_of=EARLIER.isoformat())
        assert (computed["source"], computed["settings_version"]) == ("computed", 1)
        assert computed["cells"] == expected_cells(
            reference.rfm(
                acme_ref, EARLIER, recency_cuts=[10, 30, 60, 120], frequency_cuts=[1, 2, 4, 8]
            )
        )

    def test_agrees_with_the_customer_listing_and_the_overview(self, client, demo, viewer):
        params = {"as_of": EARLIER.isoformat()}
        body = get_grid(client, viewer, **params)
        items = fetch_all(client, viewer, CUSTOMER_RFM, params)
        by_cell = Counter((i["r_score"], i["f_score"]) for i in items)
        spend: dict[tuple[int, int], Decimal] = defaultdict(lambda: Decimal("0.00"))
        for i in items:
            spend[i["r_score"], i["f_score"]] += Decimal(i["monetary"])
        for cell in body["cells"]:
            key = (cell["recency_score"], cell["frequency_score"])
            assert cell["customers"] == by_cell[key], key
            assert Decimal(cell["revenue"]) == spend[key], key
        overview = client.get(SEGMENTS, params=params, headers=viewer).json()
        per_segment = Counter()
        for cell in body["cells"]:
            for part in cell["segments"]:
                per_segment[part["segment"]] += part["customers"]
        assert {s["segment"]: s["customers"] for s in overview["segments"] if s["customers"]} == (
            dict(per_segment)
        )
        assert (body["customers"], body["revenue"]) == (overview["customers"], overview["revenue"])

    def test_globex_sees_only_globex(self, client, connection, demo, auth_headers):
        store(connection, demo.acme.id, DEMO_AS_OF)
        globex = reference.read_org(connection, demo.globex.id)
        body = get_grid(client, auth_headers("analyst@globex.example"), as_of=EARLIER.isoformat())
        assert (body["currency"], body["source"]) == ("EUR", "computed")
        assert body["cells"] == expected_cells(reference.rfm(globex, EARLIER))

    def test_an_organisation_of_its_own_sees_only_its_customers(
        self, client, connection, session, demo
    ):
        store(connection, demo.acme.id, DEMO_AS_OF)
        org = create_org(session)
        headers = headers_for(create_user(session, org, role="viewer"))
        empty = get_grid(client, headers, as_of=DEMO_AS_OF.isoformat())
        assert (empty["customers"], empty["revenue"], empty["source"]) == (0, "0.00", "computed")
        assert len(empty["cells"]) == 25
        assert all(
            (c["customers"], c["segment"], c["segments"]) == (0, None, []) for c in empty["cells"]
        )
        customer = create_customer(session, org)
        moment = datetime(2026, 6, 29, 9, 0, tzinfo=UTC)
        create_transaction(session, org, customer, occurred_at=moment, amount="42.50")
        body = get_grid(client, headers, as_of=DEMO_AS_OF.isoformat())
        filled = [c for c in body["cells"] if c["customers"]]
        assert filled == [
            {
                "recency_score": 5,
                "frequency_score": 5,
                "customers": 1,
                "share": 1.0,
                "revenue": "42.50",
                "segment": "champions",
                "segments": [{"segment": "champions", "customers": 1}],
            }
        ]

    @pytest.mark.parametrize("as_of", ["2999-01-01", "not-a-date", "2026-02-30"])
    def test_bad_or_future_day_is_422(self, client, viewer, as_of):
        response = client.get(GRID, params={"as_of": as_of}, headers=viewer)
        assert response.status_code == 422
        assert response.json()["error"] == "ValidationError"

    def test_needs_a_token(self, client):
        assert client.get(GRID).status_code == 401
