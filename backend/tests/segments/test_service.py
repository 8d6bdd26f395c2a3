"""Stored RFM snapshots: for every customer of the demo data (and of a small organisation made of
edge cases) the recency, frequency, monetary value, scores and segment equal an independent
computation in Python over rows read with plain SQL, by quantile and by cut points; a day
recomputed replaces its snapshot; the recompute job, the daily schedule and the import hook."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from spendlens.models import Job, RfmSettings, RfmSnapshot
from spendlens.segments import repository, service
from spendlens.segments.definitions import SEGMENT_GRID, Segment, fm_score
from spendlens.testing import DEMO_AS_OF
from tests.builders import create_customer, create_org, create_transaction, create_user
from tests.segments import reference
from tests.segments.helpers import run_rfm_job_here, store, stored


@pytest.fixture(scope="module")
def demo_refs(engine) -> dict[str, reference.Org]:
    with engine.connect() as conn:
        return {slug: reference.read_org_by_slug(conn, slug) for slug in ("acme-retail", "globex")}


def at(day: str, clock: str = "12:00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}+00:00")


@pytest.fixture
def edge_org(session):
    """A small organisation far east of UTC whose customers are the edge cases: ties, refunds,
    another currency, purchases after the day, purchases on either side of midnight UTC."""
    org = create_org(session, base_currency="USD", timezone="Pacific/Kiritimati")
    c = {name: create_customer(session, org, name=name) for name in "ABCDEFGHIJ"}

    def buy(name, day, amount="10.00", **kw):
        create_transaction(session, org, c[name], occurred_at=day, amount=amount, **kw)

    buy("A", at("2026-03-31", "23:59:59"), "50.00")  # the last second of as_of: recency 0
    buy("A", at("2026-04-01", "00:00:00"), "999.00")  # the day after: not seen
    buy("B", at("2026-03-01"), "20.00")
    buy("B", at("2026-03-02"), "-20.00", kind="refund")  # refunded in full: monetary 0
    buy("C", at("2026-03-01"), "20.00")  # ties with D on every figure
    buy("D", at("2026-03-01"), "20.00")
    buy("E", at("2026-01-01"), "5.00")
    buy("E", at("2026-01-05"), "7.50", currency="EUR")  # another currency: ignored
    buy("F", at("2026-02-01"), "-15.00", kind="refund")  # only a refund: no RFM
    buy("G", at("2026-04-02"), "30.00")  # only after the day: no RFM
    for day in ("2025-06-01", "2025-09-01", "2025-12-01", "2026-03-15"):
        buy("H", at(day), "100.00")
    buy("H", at("2026-03-20"), "-450.00", kind="refund")  # net negative
    buy("I", at("2024-01-01"), "3000.00")
    buy("J", at("2026-03-30"), "1.00")
    buy("J", at("2026-03-30", "18:00:00"), "1.00")
    return org, c


AS_OF = date(2026, 3, 31)


class TestStoredSnapshotEqualsIndependentComputation:
    @pytest.mark.parametrize("slug", ["acme-retail", "globex"])
    @pytest.mark.parametrize("as_of", [DEMO_AS_OF, date(2025, 9, 15)])
    def test_every_demo_customer_by_quantile(self, connection, demo, demo_refs, slug, as_of):
        org = demo.acme if slug == "acme-retail" else demo.globex
        result = store(connection, org.id, as_of)
        expected = reference.rfm(demo_refs[slug], as_of)
        assert len(expected) >= 100
        assert stored(connection, org.id, as_of) == expected
        assert result == {
            "as_of": as_of.isoformat(),
            "customers": len(expected),
            "settings_version": 0,
            "seconds": result["seconds"],
        }
        # Every segment of the grid is reached by the demo data.
        assert {r.segment for r in expected.values()} == set(reference.SEGMENT_ORDER)

    def test_every_demo_customer_by_cut_points(self, session, connection, demo, demo_refs):
        cuts = {"recency": [7, 30, 90, 180], "frequency": [2, 5, 10, 20]}
        cuts["monetary"] = [Decimal("50.00"), Decimal("200.00"), Decimal("500.00"), Decimal("2000")]
        admin = create_user(session, demo.acme, role="admin")
        session.add(
            RfmSettings(
                org_id=demo.acme.id,
                version=3,
                recency_thresholds=cuts["recency"],
                frequency_thresholds=cuts["frequency"],
                monetary_thresholds=cuts["monetary"],
                created_by=admin.id,
            )
        )
        session.flush()
        result = store(connection, demo.acme.id, DEMO_AS_OF)
        expected = reference.rfm(
            demo_refs["acme-retail"],
            DEMO_AS_OF,
            recency_cuts=cuts["recency"],
            frequency_cuts=cuts["frequency"],
            monetary_cuts=cuts["monetary"],
        )
        assert stored(connection, demo.acme.id, DEMO_AS_OF) == expected
        assert result["settings_version"] == 3
        versions = connection.execute(
            text("SELECT DISTINCT settings_version FROM rfm_scores WHERE org_id = :o"),
            {"o": demo.acme.id},
        ).scalars()
        assert list(versions) == [3]

    def test_mixed_quantiles_and_cut_points(self, session, connection, demo, demo_refs):
        session.add(
            RfmSettings(org_id=demo.globex.id, version=1, frequency_thresholds=[1, 3, 6, 12])
        )
        session.flush()
        store(connection, demo.globex.id, DEMO_AS_OF)
        expected = reference.rfm(demo_refs["globex"], DEMO_AS_OF, frequency_cuts=[1, 3, 6, 12])
        assert stored(connection, demo.globex.id, DEMO_AS_OF) == expected

    def test_edge_cases(self, connection, edge_org):
        org, c = edge_org
        store(connection, org.id, AS_OF)
        got = stored(connection, org.id, AS_OF)
        assert got == reference.rfm(reference.read_org(connection, org.id), AS_OF)
        ids = {name: customer.id for name, customer in c.items()}
        assert set(got) == {ids[n] for n in "ABCDEHIJ"}  # F: only a refund, G: only later
        a = got[ids["A"]]
        assert (a.recency_days, a.frequency, a.monetary) == (0, 1, Decimal("50.00"))
        assert got[ids["B"]].monetary == Decimal("0.00")
        assert got[ids["E"]].monetary == Decimal("5.00") and got[ids["E"]].frequency == 1
        assert got[ids["H"]].monetary == Decimal("-50.00") and got[ids["H"]].frequency == 4
        assert got[ids["J"]].frequency == 2 and got[ids["J"]].recency_days == 1
        # Equal values, equal scores.
        assert got[ids["C"]] == got[ids["D"]]
        # 8 customers: the most recent (A, recency 0) is the only one with k = 8 for R.
        assert got[ids["A"]].r_score == 5 and got[ids["I"]].r_score == 1

    def test_ties_share_a_score_and_scores_spread_1_to_5(self, session, connection):
        org = create_org(session)
        for i in range(10):
            customer = create_customer(session, org)
            # Pairs of equal spend: 10, 10, 20, 20, …, 50, 50.
            amount = Decimal(10 * (i // 2 + 1))
            create_transaction(session, org, customer, occurred_at=at("2026-01-10"), amount=amount)
        store(connection, org.id, date(2026, 1, 31))
        got = sorted(
            stored(connection, org.id, date(2026, 1, 31)).values(), key=lambda r: r.monetary
        )
        assert [r.m_score for r in got] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
        # Everyone bought once on the same day: all tie on R and F, so all get 5.
        assert {(r.r_score, r.f_score) for r in got} == {(5, 5)}

    def test_an_organisation_without_purchases_gets_an_empty_snapshot(self, session, connection):
        org = create_org(session)
        assert store(connection, org.id, AS_OF)["customers"] == 0
        snapshot = connection.execute(select(RfmSnapshot).where(RfmSnapshot.org_id == org.id)).one()
        assert snapshot.customers == 0 and snapshot.settings_version == 0


class TestRecomputeReplaces:
    def test_recomputing_a_day_replaces_its_snapshot_and_keeps_other_days(
        self, session, connection, edge_org
    ):
        org, c = edge_org
        store(connection, org.id, AS_OF)
        store(connection, org.id, AS_OF - timedelta(days=30))
        create_transaction(session, org, c["G"], occurred_at=at("2026-03-31", "08:00:00"))
        session.flush()
        store(connection, org.id, AS_OF)
        got = stored(connection, org.id, AS_OF)
        assert c["G"].id in got
        assert got == reference.rfm(reference.read_org(connection, org.id), AS_OF)
        earlier = stored(connection, org.id, AS_OF - timedelta(days=30))
        assert c["G"].id not in earlier and earlier
        snapshots = connection.execute(
            select(RfmSnapshot.as_of, RfmSnapshot.customers)
            .where(RfmSnapshot.org_id == org.id)
            .order_by(RfmSnapshot.as_of)
        ).all()
        assert snapshots == [(AS_OF - timedelta(days=30), len(earlier)), (AS_OF, len(got))]

    def test_a_failure_leaves_the_previous_snapshot(self, connection, edge_org, monkeypatch):
        org, _ = edge_org
        store(connection, org.id, AS_OF)
        before = stored(connection, org.id, AS_OF)

        def boom(*args, **kwargs):
            raise RuntimeError("disk on fire")

        from spendlens.segments import repository

        monkeypatch.setattr(repository, "scored", boom)
        with pytest.raises(RuntimeError):
            store(connection, org.id, AS_OF)
        assert stored(connection, org.id, AS_OF) == before

    def test_deleting_a_customer_deletes_their_scores(self, session, connection, edge_org):
        org, c = edge_org
        store(connection, org.id, AS_OF)
        session.delete(c["A"])
        session.flush()
        assert c["A"].id not in stored(connection, org.id, AS_OF)


class TestSegmentGrid:
    def test_documented_grid_is_the_one_used(self):
        for r in range(1, 6):
            for f in range(1, 6):
                for m in range(1, 6):
                    expected = reference.GRID[r][fm_score(f, m)]
                    assert SEGMENT_GRID[r][fm_score(f, m)].value == expected

    @pytest.mark.parametrize(
        "f, m, fm", [(1, 1, 1), (1, 2, 2), (2, 3, 3), (4, 5, 5), (5, 4, 5), (3, 4, 4), (1, 5, 3)]
    )
    def test_fm_is_the_mean_rounded_half_up(self, f, m, fm):
        assert fm_score(f, m) == fm

    def test_every_segment_is_reachable(self):
        assert {s for row in SEGMENT_GRID.values() for s in row.values()} == set(Segment)


class TestRecomputeJob:
    def test_the_job_stores_the_snapshot_of_its_day(self, session, connection, edge_org):
        org, _ = edge_org
        job_id = service.queue_recompute(connection, org.id, trigger="api", as_of=AS_OF)
        job = session.get(Job, (org.id, job_id))
        assert (job.kind, job.state, job.params) == (
            "rfm",
            "queued",
            {"as_of": "2026-03-31", "trigger": "api"},
        )
        assert job.queue_job_id is not None
        assert run_rfm_job_here(connection, org.id, job_id).state == "succeeded"
        session.expire(job)
        assert job.state == "succeeded" and job.attempts == 1
        assert job.result["customers"] == job.processed == job.total == 8
        snapshot = session.get(RfmSnapshot, (org.id, AS_OF))
        assert snapshot.job_id == job_id and snapshot.customers == 8

    def test_without_a_day_the_job_takes_today_in_the_organisations_zone(
        self, session, connection, edge_org
    ):
        org, _ = edge_org
        job_id = service.queue_recompute(connection, org.id, trigger="import", import_job_id=7)
        job = session.get(Job, (org.id, job_id))
        today_there = datetime.now(UTC).astimezone(__import__("zoneinfo").ZoneInfo(org.timezone))
        assert job.params == {
            "as_of": today_there.date().isoformat(),
            "trigger": "import",
            "import_job_id": 7,
        }

    def test_the_daily_schedule_queues_one_job_per_organisation(self, session, connection):
        orgs = connection.execute(text("SELECT count(*) FROM organizations")).scalar_one()
        before = connection.execute(text("SELECT count(*) FROM jobs WHERE kind = 'rfm'")).scalar()
        assert service.queue_daily_recomputes(connection, date(2026, 6, 29)) == orgs
        params = connection.execute(
            text("SELECT DISTINCT params::text FROM jobs WHERE kind = 'rfm'")
        ).scalars()
        assert list(params) == ['{"as_of": "2026-06-29", "trigger": "schedule"}']
        after = connection.execute(text("SELECT count(*) FROM jobs WHERE kind = 'rfm'")).scalar()
        assert after - before == orgs

    def test_the_schedule_computes_the_previous_utc_day(self):
        from spendlens.segments.tasks import day_before

        midnight_past = int(datetime(2026, 7, 1, 0, 15, tzinfo=UTC).timestamp())
        assert day_before(midnight_past) == date(2026, 6, 30)


class TestThinningOldSnapshots:
    def test_old_days_keep_the_last_snapshot_of_each_month(self, session, connection, edge_org):
        org, _ = edge_org
        other = create_org(session, base_currency="USD", timezone="UTC")
        days = [
            "2025-12-30", "2025-12-31", "2026-01-05", "2026-01-20", "2026-01-31",
            "2026-02-10", "2026-02-27", "2026-03-01", "2026-03-02",
        ]  # fmt: skip
        for day in days:
            store(connection, org.id, date.fromisoformat(day))
        # Another organisation's only January day stays, whatever the first one keeps.
        for day in ("2026-01-20", "2026-02-05", "2026-02-06"):
            store(connection, other.id, date.fromisoformat(day))
        scores_before = stored(connection, org.id, date(2026, 1, 31))

        deleted = sum(
            repository.thin_old_snapshots(connection, org_id, before=date(2026, 3, 1))
            for org_id in (org.id, other.id)
        )

        def snapshot_days(org_id):
            query = "SELECT as_of::text FROM rfm_snapshots WHERE org_id = :org ORDER BY as_of"
            return list(connection.execute(text(query), {"org": org_id}).scalars())

        assert snapshot_days(org.id) == [
            "2025-12-31", "2026-01-31", "2026-02-27", "2026-03-01", "2026-03-02",
        ]  # fmt: skip
        assert snapshot_days(other.id) == ["2026-01-20", "2026-02-06"]
        assert deleted == 4 + 1
        for day in ("2025-12-30", "2026-01-05", "2026-01-20", "2026-02-10"):
            assert stored(connection, org.id, date.fromisoformat(day)) == {}  # scores went too
        assert stored(connection, org.id, date(2026, 1, 31)) == scores_before != {}
        assert repository.thin_old_snapshots(connection, org.id, before=date(2026, 3, 1)) == 0

    def test_the_nightly_cutoff_follows_the_setting(self):
        from spendlens.segments.tasks import thinning_cutoff

        night = int(datetime(2026, 7, 1, 3, 40, tzinfo=UTC).timestamp())
        assert thinning_cutoff(night, 400) == date(2025, 5, 27)
        assert thinning_cutoff(night, 0) is None  # 0 keeps every snapshot
        from spendlens.jobs.queue import queue

        crons = {p.task.name: p.cron for p in queue.periodic_registry.periodic_tasks.values()}
        assert crons["segments.thin_snapshots"] == "40 3 * * *"  # the worker runs it nightly
