"""`spendlens import FILE`: the same import as the API, run in-process with a progress bar, against
a database of its own (the job commits for real)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from spendlens.cli import _use_database, main, migrate
from spendlens.db import make_engine

from tests.imports.helpers import ONLINE_RETAIL_SAMPLE


@pytest.fixture
def shop_database(fresh_database_url, database_url):
    """A migrated database with two organisations; the CLI points at it during the test."""
    migrate(fresh_database_url)
    engine = make_engine(fresh_database_url, pool_size=1)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organizations (name, slug, base_currency, timezone) VALUES "
                "('Shop', 'shop', 'GBP', 'Europe/London'), ('Other', 'other', 'USD', 'UTC')"
            )
        )
    _use_database(fresh_database_url)
    yield engine
    _use_database(database_url)
    engine.dispose()


def count_transactions(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM transactions")).scalar_one()


def test_import_with_a_progress_bar_then_again_adds_nothing(shop_database, capsys):
    args = ["import", str(ONLINE_RETAIL_SAMPLE), "--format", "online-retail", "--org", "shop"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "importing" in captured.err and "100%" in captured.err and "511/511 rows" in captured.err
    assert "succeeded" in captured.out
    result = json.loads(captured.out.split("\n", 1)[1].rsplit("}", 1)[0] + "}")
    assert (result["new"], result["skipped"]) == (466, 45)
    assert count_transactions(shop_database) == 466

    assert main(args) == 0
    again = capsys.readouterr().out
    assert '"new": 0' in again and '"already_present": 466' in again
    assert count_transactions(shop_database) == 466


def test_dry_run_reports_problems_and_writes_nothing(shop_database, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    lines = ONLINE_RETAIL_SAMPLE.read_text().splitlines()
    lines[5] = lines[5].replace("12/2/2010", "12/32/2010")
    bad.write_text("\n".join(lines) + "\n")
    code = main(["import", str(bad), "--format", "online-retail", "--org", "shop", "--dry-run"])
    assert code == 1
    out = capsys.readouterr().out
    assert '"invalid": 1' in out and "row 5, InvoiceDate '12/32/2010 3:03': not a date" in out
    assert count_transactions(shop_database) == 0


def test_refusals_exit_with_2(shop_database, tmp_path, capsys):
    binary = tmp_path / "sheet.xlsx"
    binary.write_bytes(b"PK\x03\x04 not a csv")
    assert main(["import", str(binary), "--format", "online-retail", "--org", "shop"]) == 2
    assert "Excel" in capsys.readouterr().err
    assert main(["import", str(ONLINE_RETAIL_SAMPLE), "--format", "online-retail"]) == 2
    assert "--org" in capsys.readouterr().err
    mapping = ["--mapping", "{not json"]
    assert main(["import", str(binary), "--format", "custom", "--org", "shop", *mapping]) == 2
