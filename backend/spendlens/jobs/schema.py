"""The procrastinate queue's own schema, which our Alembic migrations install and remove.

Its tables are not in Spendlens's metadata, so schema comparisons must skip them (`include_name`).
"""

from __future__ import annotations

from procrastinate.schema import SchemaManager

from spendlens.imports.staging import STAGING_SCHEMA
from spendlens.models.events import EVENT_PARTITION_NAME

_PREFIX = "procrastinate_"


def procrastinate_schema_sql() -> str:
    """The schema file shipped with the installed procrastinate (pinned in pyproject.toml)."""
    return SchemaManager.get_schema()


# Drops every procrastinate object whatever its version: tables, then functions, then types.
DROP_PROCRASTINATE_SQL = """
DO $$
DECLARE
    obj record;
BEGIN
    FOR obj IN
        SELECT c.oid::regclass AS name FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
          AND c.relname LIKE 'procrastinate\\_%'
    LOOP
        EXECUTE format('DROP TABLE IF EXISTS %s CASCADE', obj.name);
    END LOOP;
    FOR obj IN
        SELECT p.oid::regprocedure AS name FROM pg_proc p
        WHERE p.pronamespace = current_schema()::regnamespace
          AND p.proname LIKE 'procrastinate\\_%'
    LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', obj.name);
    END LOOP;
    FOR obj IN
        SELECT t.oid::regtype AS name FROM pg_type t
        WHERE t.typnamespace = current_schema()::regnamespace AND t.typtype IN ('e', 'c')
          AND t.typname LIKE 'procrastinate\\_%'
    LOOP
        EXECUTE format('DROP TYPE IF EXISTS %s CASCADE', obj.name);
    END LOOP;
END
$$;
"""


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic hook: leave procrastinate's tables, the partitions of `events` (tables the models
    do not declare) and the staging schema out of comparisons."""
    if type_ == "table" and name and name.startswith(_PREFIX):
        return False
    if type_ == "table" and name and EVENT_PARTITION_NAME.match(name):
        return False
    if type_ == "schema" and name == STAGING_SCHEMA:
        return False
    return True
