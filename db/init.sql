-- Runs once when the docker PostgreSQL volume is first created (docker-entrypoint-initdb.d).
-- The `spendlens` role (the owner: a superuser here) and database come from
-- POSTGRES_USER/POSTGRES_DB; the schema itself is created by `spendlens migrate` (Alembic), never
-- here, and so is the application role `spendlens_app` the API and worker connect as (with
-- SPENDLENS_APP_DB_PASSWORD; row-level security applies to it, see the README).
ALTER DATABASE spendlens SET timezone TO 'UTC';
