"""The exports as a worker-free request sees them in production: a connection of their own from
the engine (not the test's transaction), server-side cursors, one snapshot for the whole JSON."""

from __future__ import annotations

import csv
import io
import json

import pytest

from spendlens.cli import migrate
from spendlens.customers.filters import CustomerFilters
from spendlens.db import make_engine, session_factory
from spendlens.exports import service

from tests.builders import create_customer, create_merchant, create_org, create_transaction


@pytest.fixture(scope="module")
def committed(create_database):
    url = create_database()
    migrate(url)
    engine = make_engine(url, pool_size=2)
    with session_factory(engine)() as session:
        org = create_org(session, name="Committed", base_currency="USD")
        other = create_org(session)
        merchant = create_merchant(session, org, name='Shop, "The"')
        for i in range(30):
            customer = create_customer(session, org, external_id=f"K{i:02d}")
            if i % 3:
                create_transaction(session, org, customer, merchant, external_id=f"T{i:02d}")
        create_customer(session, other, external_id="OTHER")
        session.commit()
        org_id = org.id
    yield engine, org_id
    engine.dispose()


def test_organization_json_from_its_own_connection(committed):
    engine, org_id = committed
    chunks = list(service.organization_json(engine.connect, org_id))
    document = json.loads("".join(chunks))
    assert [c["external_id"] for c in document["customers"]] == [f"K{i:02d}" for i in range(30)]
    assert [m["name"] for m in document["merchants"]] == ['Shop, "The"']
    assert len(document["transactions"]) == 20
    assert document["transactions"][0]["amount"] == "10.00"


def test_customers_csv_from_its_own_connection(committed):
    engine, org_id = committed
    text = "".join(service.customers_csv(engine.connect, org_id, "USD", CustomerFilters()))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["external_id"] for r in rows] == [f"K{i:02d}" for i in range(30)]
    assert [r["total_spend"] for r in rows[:3]] == ["0.00", "10.00", "10.00"]


def test_large_exports_come_in_chunks(committed, monkeypatch):
    engine, org_id = committed
    monkeypatch.setattr(service, "CHUNK_CHARS", 200)
    chunks = list(service.organization_json(engine.connect, org_id))
    assert len(chunks) > 10
    assert json.loads("".join(chunks))["organization"]["name"] == "Committed"
