"""Row-level security: the application role sees and writes only the organisation set for its
transaction, whatever a query forgets; every tenant table is policed; the owner migrates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import APIRouter
from psycopg2.errors import InsufficientPrivilege
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, ProgrammingError

from spendlens.auth.dependencies import CurrentUser
from spendlens.config import Settings, get_settings
from spendlens.db import SessionDep
from spendlens.imports.repository import drop_stale_staging_tables, staging_table
from spendlens.models import Job
from spendlens.segments import service as segments_service
from spendlens.tenancy import (
    POLICY_NAME,
    UnsafeApplicationRole,
    bind_org,
    provision_app_role,
    set_org,
)
from tests.builders import create_org
from tests.conftest import as_app_role


def count_by_org(conn, table: str) -> dict[int, int]:
    rows = conn.execute(text(f"SELECT org_id, count(*) FROM {table} GROUP BY org_id"))
    return dict(rows.all())


class TestTheApplicationRole:
    def test_is_not_superuser_cannot_bypass_rls_and_owns_nothing(self, engine, app_role):
        with engine.connect() as conn:
            role = conn.execute(
                text(
                    "SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = :r"
                ),
                {"r": app_role},
            ).one()
            owned = conn.execute(
                text(
                    "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
                    "WHERE r.rolname = :r AND c.relnamespace = current_schema()::regnamespace"
                ),
                {"r": app_role},
            ).scalar_one()
        assert tuple(role) == (False, False, False)
        assert owned == 0

    def test_is_what_the_api_connects_as(self, app_engine, app_role):
        with app_engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == app_role

    def test_migrations_ran_as_the_owner(self, engine, database_url, app_role):
        with engine.connect() as conn:
            owners = set(
                conn.execute(
                    text(
                        "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c "
                        "WHERE c.relnamespace = current_schema()::regnamespace "
                        "AND c.relkind IN ('r', 'p', 'S')"
                    )
                ).scalars()
            )
        assert owners == {engine.url.username}
        assert app_role not in owners

    def test_cannot_change_the_schema_or_the_migration_history(self, app_engine):
        with app_engine.connect() as conn:
            with pytest.raises(ProgrammingError) as refused:
                conn.execute(text("CREATE TABLE sneaky (org_id bigint)"))
            assert isinstance(refused.value.orig, InsufficientPrivilege)
            conn.rollback()
            with pytest.raises(ProgrammingError):
                conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            conn.rollback()
            with pytest.raises(ProgrammingError):
                conn.execute(text("ALTER TABLE transactions DISABLE ROW LEVEL SECURITY"))


class TestConfiguringTheApplicationRole:
    def test_by_default_it_is_the_owners_dsn_with_the_role_and_its_password(self):
        settings = Settings(
            database_url="postgresql://owner:secret@db.internal:5433/spendlens",
            app_db_role="tenant_app",
            app_db_password="p@ss:word",
        )
        url = make_url(settings.app_sqlalchemy_url)
        assert (url.username, url.password) == ("tenant_app", "p@ss:word")
        assert (url.host, url.port, url.database) == ("db.internal", 5433, "spendlens")
        assert make_url(settings.sqlalchemy_url).username == "owner"  # migrations stay owner's

    def test_it_never_takes_the_owners_password(self):
        settings = Settings(database_url="postgresql://owner:owner-secret@db/spendlens")
        url = make_url(settings.app_sqlalchemy_url)
        assert (url.username, url.password) == ("spendlens_app", None)

    def test_an_explicit_dsn_wins(self):
        settings = Settings(
            database_url="postgresql://owner@db/spendlens",
            app_database_url="postgres://reader:pw@replica/spendlens",
        )
        assert settings.app_sqlalchemy_url == "postgresql+psycopg2://reader:pw@replica/spendlens"

    def test_migrate_refuses_a_role_that_would_bypass_the_policies(self, connection, database_url):
        as_owner = get_settings().model_copy(update={"app_database_url": database_url})
        with pytest.raises(UnsafeApplicationRole, match="owner"):
            provision_app_role(connection, as_owner)
        superuser = make_url(database_url).set(username="spendlens_rls_test_su")
        connection.exec_driver_sql("CREATE ROLE spendlens_rls_test_su LOGIN SUPERUSER")
        as_superuser = get_settings().model_copy(
            update={"app_database_url": superuser.render_as_string(hide_password=False)}
        )
        with pytest.raises(UnsafeApplicationRole, match="BYPASSRLS"):
            provision_app_role(connection, as_superuser)


def test_every_table_with_an_org_id_has_a_forced_policy(engine):
    """Also catches tables added by later migrations: each must call
    `spendlens.tenancy.row_security_sql` (README: "Adding a table")."""
    with engine.connect() as conn:
        tables = conn.execute(
            text("""
                SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                       p.polcmd, pg_get_expr(p.polqual, p.polrelid) AS using_expr,
                       pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
                FROM pg_class c
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id'
                     AND NOT a.attisdropped
                LEFT JOIN pg_policy p ON p.polrelid = c.oid AND p.polname = :policy
                WHERE c.relnamespace = current_schema()::regnamespace
                  AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                ORDER BY c.relname
                """),
            {"policy": POLICY_NAME},
        ).all()
    assert {"customers", "transactions", "users", "jobs"} <= {t.relname for t in tables}
    unpoliced = [
        t.relname
        for t in tables
        if not (
            t.relrowsecurity
            and t.relforcerowsecurity
            and t.polcmd == "*"
            and "spendlens.org_id" in (t.using_expr or "")
            and "spendlens.org_id" in (t.check_expr or "")
        )
    ]
    assert unpoliced == [], f"tenant tables without a forced org_id policy: {unpoliced}"


class TestAQueryThatForgetsItsOrgFilter:
    def test_sees_only_the_request_organisation(self, app, client, demo, auth_headers, engine):
        """A route that reads `transactions` with no org_id filter at all, inside a request."""
        router = APIRouter()

        @router.get("/api/v1/forgetful")
        def forgetful(user: CurrentUser, session: SessionDep) -> dict[str, int]:
            rows = session.execute(text("SELECT org_id, count(*) FROM transactions GROUP BY 1"))
            return {str(org_id): count for org_id, count in rows.all()}

        app.include_router(router)
        with engine.connect() as owner:
            everything = count_by_org(owner, "transactions")
        assert {demo.acme.id, demo.globex.id} <= everything.keys()  # both have rows

        for org, email in (
            (demo.acme, "admin@acme.example"),
            (demo.globex, "analyst@globex.example"),
        ):
            response = client.get("/api/v1/forgetful", headers=auth_headers(email))
            assert response.status_code == 200, response.text
            assert response.json() == {str(org.id): everything[org.id]}

    def test_sees_nothing_with_no_organisation_set(self, connection, session, app_role, demo):
        with as_app_role(connection, app_role):
            for table in ("transactions", "customers", "users", "jobs", "rfm_scores"):
                assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0

    def test_sees_nothing_after_the_organisations_transaction_ended(self, app_engine, demo):
        with app_engine.connect() as conn:
            with conn.begin():
                set_org(conn, demo.acme.id)
                assert conn.execute(text("SELECT count(*) FROM customers")).scalar() > 0
            # SET LOCAL: the next transaction on the same connection has no organisation.
            assert conn.execute(text("SELECT count(*) FROM customers")).scalar() == 0

    def test_a_session_keeps_its_organisation_across_commits(self, app_engine, demo):
        from sqlalchemy.orm import Session

        with Session(app_engine) as session:
            bind_org(session, demo.globex.id)
            session.commit()
            orgs = session.execute(text("SELECT DISTINCT org_id FROM customers")).scalars()
            assert list(orgs) == [demo.globex.id]


class TestWritesIntoAnotherOrganisation:
    def test_insert_with_another_orgs_id_is_refused(self, connection, app_role, demo):
        with as_app_role(connection, app_role):
            set_org(connection, demo.acme.id)
            with pytest.raises(DBAPIError, match="row-level security"):
                with connection.begin_nested():
                    connection.execute(
                        text(
                            "INSERT INTO merchants (org_id, name) "
                            "VALUES (:org, 'Planted by Acme')"
                        ),
                        {"org": demo.globex.id},
                    )

    def test_moving_a_row_to_another_org_is_refused(self, connection, app_role, demo):
        with as_app_role(connection, app_role):
            set_org(connection, demo.acme.id)
            with pytest.raises(DBAPIError, match="row-level security"):
                with connection.begin_nested():
                    connection.execute(
                        text("UPDATE customers SET org_id = :other"), {"other": demo.globex.id}
                    )

    def test_updates_and_deletes_without_a_filter_touch_only_the_org(
        self, connection, app_role, demo
    ):
        with as_app_role(connection, app_role):
            set_org(connection, demo.acme.id)
            renamed = connection.execute(text("UPDATE merchants SET name = name || ' (x)'"))
        with_x = connection.execute(
            text("SELECT org_id, count(*) FROM merchants WHERE name LIKE '% (x)' GROUP BY 1")
        ).all()
        assert dict(with_x) == {demo.acme.id: renamed.rowcount}


class TestOrganisations:
    def test_are_readable_but_only_the_current_one_can_change(self, connection, app_role, demo):
        with as_app_role(connection, app_role):
            set_org(connection, demo.acme.id)
            seen = connection.execute(text("SELECT count(*) FROM organizations")).scalar_one()
            renamed = connection.execute(text("UPDATE organizations SET name = name || '!'"))
            deleted = connection.execute(
                text("DELETE FROM organizations WHERE id = :id"), {"id": demo.globex.id}
            )
        assert seen >= 2
        assert renamed.rowcount == 1 and deleted.rowcount == 0
        names = dict(connection.execute(text("SELECT id, name FROM organizations")).all())
        assert names[demo.acme.id].endswith("!") and not names[demo.globex.id].endswith("!")


class TestCrossOrganisationHousekeeping:
    """The worker's periodic tasks look at every organisation one at a time, as the app role."""

    def test_the_daily_schedule_queues_a_recompute_per_organisation(
        self, connection, app_role, demo
    ):
        orgs = connection.execute(text("SELECT count(*) FROM organizations")).scalar_one()
        before = count_by_org(connection, "jobs")
        with as_app_role(connection, app_role):
            queued = segments_service.queue_daily_recomputes(connection, demo.as_of)
        after = count_by_org(connection, "jobs")
        assert queued == orgs
        assert all(after[o] == before.get(o, 0) + 1 for o in after)
        assert len(after) == orgs

    def test_staging_cleanup_keeps_the_uploads_of_every_organisations_live_jobs(
        self, session, connection, app_role
    ):
        first, second = create_org(session), create_org(session)
        jobs = {}
        for org, state in ((first, "running"), (second, "queued"), (second, "succeeded")):
            finished = datetime.now(UTC) - timedelta(hours=1) if state == "succeeded" else None
            job = Job(
                org_id=org.id,
                kind="import",
                state=state,
                params={},
                processed=0,
                errors=[],
                error_count=0,
                attempts=1,
                finished_at=finished,
            )
            session.add(job)
            session.flush()
            jobs[(org.id, state)] = job.id
        session.commit()
        with as_app_role(connection, app_role):  # the API creates the uploads as the app role
            for job_id in jobs.values():
                connection.exec_driver_sql(f"CREATE TABLE {staging_table(job_id)} (c1 text)")
            dropped = drop_stale_staging_tables(connection, retention_days=7)
        assert staging_table(jobs[(second.id, "succeeded")]) in dropped
        assert staging_table(jobs[(first.id, "running")]) not in dropped
        assert staging_table(jobs[(second.id, "queued")]) not in dropped
