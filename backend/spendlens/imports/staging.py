"""Where uploads are staged before they are parsed: one schema, a table per import job, outside
the models' metadata (Alembic creates the schema and leaves its tables alone)."""

from __future__ import annotations

STAGING_SCHEMA = "import_staging"
