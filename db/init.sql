-- Runs once when the docker PostgreSQL volume is first created (docker-entrypoint-initdb.d).
-- The `spendlens` role and database are created by the image from POSTGRES_USER/POSTGRES_DB;
-- this prepares what the application expects and cannot create as a plain owner everywhere.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
ALTER DATABASE spendlens SET timezone TO 'UTC';
