"""The `spendlens` command and the demo seed: migrate and seed a fresh database, seeding is
deterministic and idempotent, and the demo data has the shape the README promises."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text

from spendlens.auth.security import verify_password
from spendlens.cli import _use_database, build_parser, main
from spendlens.db import make_engine
from spendlens.jobs.runner import run_job
from spendlens.journey.job import execute_rebuild
from spendlens.seed import DEMO_PASSWORD, DEMO_USERS

FINGERPRINT = text(
    "SELECT count(*), md5(string_agg(t.external_id || t.amount || t.occurred_at::text "
    "|| t.category || c.external_id, ',' ORDER BY t.external_id)) "
    "FROM transactions t JOIN customers c ON c.org_id = t.org_id AND c.id = t.customer_id"
)


@pytest.fixture
def cli_database(fresh_database_url, database_url):
    """Point the CLI at a fresh database for the test, then back at the run's database."""
    _use_database(fresh_database_url)
    yield fresh_database_url
    _use_database(database_url)


def test_migrate_then_seed_twice_changes_nothing(cli_database, capsys):
    assert main(["migrate"]) == 0
    assert main(["seed", "--as-of", "2026-03-31", "--scale", "0.05"]) == 0
    first = capsys.readouterr().out
    assert "acme-retail: created" in first and "globex: created" in first
    engine = make_engine(cli_database, pool_size=1)
    try:
        with engine.connect() as conn:
            before = conn.execute(FINGERPRINT).one()
            users_before = conn.execute(text("SELECT email, password_hash FROM users")).all()
        assert "queued the first RFM snapshot of acme-retail, globex" in first
        rfm_jobs = text(
            "SELECT o.slug, j.state, j.params->>'as_of', j.params->>'trigger' FROM jobs j "
            "JOIN organizations o ON o.id = j.org_id WHERE j.kind = 'rfm' ORDER BY o.slug"
        )
        with engine.connect() as conn:
            queued = conn.execute(rfm_jobs).all()
            procrastinate_jobs = conn.execute(
                text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'")
            ).scalar_one()
        assert [tuple(row) for row in queued] == [
            ("acme-retail", "queued", "2026-03-31", "seed"),
            ("globex", "queued", "2026-03-31", "seed"),
        ]
        assert procrastinate_jobs == 4  # a worker picks them up (rfm and journey)
        assert "queued the customer stages of acme-retail, globex" in first
        journey_jobs = text(
            "SELECT j.org_id, j.id FROM jobs j WHERE j.kind = 'journey' "
            "AND j.params->>'trigger' = 'seed' AND j.state = 'queued' ORDER BY j.org_id"
        )
        with engine.connect() as conn:
            journeys = conn.execute(journey_jobs).all()
        assert len(journeys) == 2
        # What the worker does with them: every demo customer with events gets their stages.
        assert run_job(journeys[0].org_id, journeys[0].id, execute_rebuild, engine=engine) == (
            "succeeded"
        )
        with engine.connect() as conn:
            without_stages = conn.execute(
                text(
                    "SELECT count(*) FROM customers c WHERE c.org_id = :org AND EXISTS "
                    "(SELECT 1 FROM events e WHERE e.org_id = c.org_id AND e.customer_id = c.id) "
                    "AND NOT EXISTS (SELECT 1 FROM customer_stages s "
                    "WHERE s.org_id = c.org_id AND s.customer_id = c.id)"
                ),
                {"org": journeys[0].org_id},
            ).scalar_one()
            stages = conn.execute(
                text("SELECT count(DISTINCT stage) FROM customer_stages WHERE org_id = :org"),
                {"org": journeys[0].org_id},
            ).scalar_one()
        assert without_stages == 0 and stages == 4
        assert main(["seed", "--as-of", "2026-03-31", "--scale", "0.05"]) == 0
        again = capsys.readouterr().out
        assert "already present" in again and "queued" not in again
        with engine.connect() as conn:
            assert len(conn.execute(rfm_jobs).all()) == 2  # nothing queued twice
            assert conn.execute(FINGERPRINT).one() == before
            assert conn.execute(text("SELECT email, password_hash FROM users")).all() == (
                users_before
            )
    finally:
        engine.dispose()


def test_same_arguments_give_identical_rows(create_database):
    from spendlens.cli import migrate
    from spendlens.seed import seed_demo

    prints = []
    for _ in range(2):
        url = create_database()
        migrate(url)
        engine = make_engine(url, pool_size=1)
        try:
            seed_demo(engine, as_of=date(2026, 1, 31), scale=0.03)
            with engine.connect() as conn:
                prints.append(conn.execute(FINGERPRINT).one())
        finally:
            engine.dispose()
    assert prints[0] == prints[1] and prints[0][0] > 0


class TestDemoData:
    def test_volumes_span_and_currencies(self, engine):
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT o.slug, o.base_currency, count(*), min(t.occurred_at)::date, "
                    "max(t.occurred_at)::date, count(DISTINCT t.category), "
                    "count(DISTINCT t.merchant_id), bool_and(t.currency = o.base_currency), "
                    "count(*) FILTER (WHERE t.kind = 'refund') "
                    "FROM transactions t JOIN organizations o ON o.id = t.org_id GROUP BY 1, 2"
                )
            ).all()
        by_slug = {r[0]: r for r in rows}
        acme = by_slug["acme-retail"]
        assert acme[1] == "USD" and acme[2] == 150_000
        assert acme[3] >= date(2024, 7, 1) and acme[4] == date(2026, 6, 30)
        assert acme[5] == 12 and acme[6] == 60 and acme[7] is True
        assert 0 < acme[8] < 0.02 * acme[2]  # a few refunds
        assert by_slug["globex"][1] == "EUR" and by_slug["globex"][7] is True

    def test_seasonality_and_customers_who_stop_buying(self, engine):
        with engine.connect() as conn:
            december, june = conn.execute(
                text(
                    "SELECT sum(amount) FILTER (WHERE occurred_at >= '2025-12-01' "
                    "AND occurred_at < '2026-01-01'), sum(amount) FILTER (WHERE occurred_at >= "
                    "'2025-06-01' AND occurred_at < '2025-07-01') FROM transactions t "
                    "JOIN organizations o ON o.id = t.org_id AND o.slug = 'acme-retail'"
                )
            ).one()
            quiet_share = conn.execute(
                text(
                    "SELECT avg((last_purchase < date '2026-06-30' - 90)::int) FROM ("
                    " SELECT max(occurred_at)::date AS last_purchase FROM transactions t"
                    " JOIN organizations o ON o.id = t.org_id AND o.slug = 'acme-retail'"
                    " GROUP BY customer_id) s"
                )
            ).scalar_one()
        assert december > june * Decimal("1.3")
        assert 0.15 < quiet_share < 0.5

    def test_demo_users_log_in_with_documented_password(self, engine):
        with engine.connect() as conn:
            users = dict(conn.execute(text("SELECT email, password_hash FROM users")).all())
        for email, _, _, _ in DEMO_USERS:
            assert verify_password(DEMO_PASSWORD, users[email])[0] is True


def test_parser_rejects_bad_dates():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["seed", "--as-of", "31/12/2026"])


def test_without_a_configured_database_commands_share_an_embedded_one(
    tmp_path, monkeypatch, database_url
):
    """No DATABASE_URL: the CLI starts (or joins) a PostgreSQL under the data folder."""
    import psycopg2

    from spendlens.cli import _ensure_local_database

    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("SPENDLENS_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SPENDLENS_DATA_DIR", str(tmp_path / "data"))
    from spendlens.config import get_settings

    get_settings.cache_clear()
    try:
        first = _ensure_local_database()
        assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
        assert _ensure_local_database() == first  # a second command joins the same server
        conn = psycopg2.connect(first)
        with conn.cursor() as cur:
            cur.execute("SELECT current_database()")
            assert cur.fetchone()[0] == "spendlens"
        conn.close()
    finally:
        monkeypatch.undo()
        _use_database(database_url)
