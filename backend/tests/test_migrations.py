"""The schema changes only through Alembic: head builds an empty database, base removes it all,
and the migrated schema matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from spendlens.cli import downgrade, migrate
from spendlens.jobs.schema import include_name
from spendlens.models import Base

# Tables of one organisation each: their keys all start with org_id.
TENANT_TABLES = (
    "customers",
    "merchants",
    "transactions",
    "rfm_settings",
    "rfm_snapshots",
    "rfm_scores",
    "clv_fits",
    "clv_estimates",
    "events",
    "event_ids",
    "ingest_keys",
    "plans",
    "shops",
    "invoices",
    "payments",
    "journey_settings",
    "customer_stages",
    "customer_milestones",
    "journey_pending",
    "journey_daily_transitions",
    "journey_daily_stages",
    "prediction_models",
    "predictions",
    "alert_rules",
    "alert_destinations",
    "alert_rule_states",
    "alerts",
    "alert_deliveries",
    "health_settings",
    "health_computations",
    "health_scores",
)
TABLES = {
    "organizations",
    "users",
    "login_failures",
    "jobs",
    "procrastinate_jobs",
    "invitations",
    *TENANT_TABLES,
}


def test_upgrade_head_then_downgrade_base(fresh_database_url, scratch_engine):
    migrate(fresh_database_url)
    assert TABLES <= set(inspect(scratch_engine).get_table_names())
    with scratch_engine.connect() as conn:
        # procrastinate's own tables are installed by migration 0002 but are not our models.
        context = MigrationContext.configure(conn, opts={"include_name": include_name})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"

    downgrade(fresh_database_url)
    scratch_engine.dispose()
    assert set(inspect(scratch_engine).get_table_names()) <= {"alembic_version"}

    migrate(fresh_database_url)  # and back up again
    assert TABLES <= set(inspect(scratch_engine).get_table_names())


def test_every_tenant_key_includes_org_id(engine):
    insp = inspect(engine)
    for table in TENANT_TABLES:
        assert insp.get_pk_constraint(table)["constrained_columns"][0] == "org_id"
        for fk in insp.get_foreign_keys(table):
            # Users are keyed by their global id (they log in before their org is known).
            if fk["referred_table"] not in ("organizations", "users"):
                assert fk["constrained_columns"][0] == "org_id", (table, fk)
        for unique in insp.get_unique_constraints(table):
            # An ingest key is looked up by its hash alone (the request carries nothing else).
            if (table, unique["column_names"]) != ("ingest_keys", ["key_hash"]):
                assert "org_id" in unique["column_names"], (table, unique)
