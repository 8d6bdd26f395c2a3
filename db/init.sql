-- Runs once when the docker PostgreSQL volume is first created (docker-entrypoint-initdb.d).
-- The `spendlens` role and database come from POSTGRES_USER/POSTGRES_DB; the schema itself is
-- created by `spendlens migrate` (Alembic), never here.
ALTER DATABASE spendlens SET timezone TO 'UTC';
