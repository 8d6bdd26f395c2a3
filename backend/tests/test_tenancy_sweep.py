"""The cross-tenant sweep, generated from the app's routes: every route that takes an object's id
in its path, called by an admin of one organisation with the ids of another organisation's
objects, answers 404 — exactly like a missing object — and changes nothing in the other
organisation. Routes that take an id as a filter (`?customer_id=`) answer exactly as they do for
an id that exists nowhere: an empty result, never the other organisation's figures."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from spendlens.clv.schemas import ClvFitCreate
from spendlens.main import create_app
from tests.builders import create_customer, create_transaction, create_user, headers_for

# Where the objects behind each id parameter live (every tenant table has org_id).
ID_TABLES = {
    "user_id": "users",
    "transaction_id": "transactions",
    "customer_id": "customers",
    "job_id": "jobs",
    "fit_id": "clv_fits",
    "invitation_id": "invitations",
    "key_id": "ingest_keys",
    "model_id": "prediction_models",
    "rule_id": "alert_rules",
    "alert_id": "alerts",
}
# A valid body per write route, so that the request gets past validation to the lookup.
BODIES = {
    ("PATCH", "/api/v1/users/{user_id}"): {"full_name": "Renamed", "role": "admin"},
    ("PATCH", "/api/v1/transactions/{transaction_id}"): {"amount": "1.00", "category": "X"},
    ("PATCH", "/api/v1/customers/{customer_id}"): {"name": "Renamed"},
    ("PUT", "/api/v1/alerts/rules/{rule_id}"): {"name": "Renamed", "kind": "entered_critical"},
}
TENANT_TABLES = (
    "users",
    "customers",
    "transactions",
    "merchants",
    "jobs",
    "clv_fits",
    "prediction_models",
    "invitations",
    "events",
    "ingest_keys",
    "plans",
    "shops",
    "payments",
    "alert_rules",
    "alerts",
    "alert_deliveries",
)


def _id_routes() -> list[tuple[str, str, tuple[str, ...]]]:
    """(method, path, id parameters) of every API operation that takes an object id."""
    document = create_app().openapi()
    routes = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            names = tuple(
                p["name"]
                for p in operation.get("parameters", [])
                if p["in"] in ("path", "query") and p["name"].endswith("_id")
            )
            if names:
                routes.append((method.upper(), path, names))
    return sorted(routes)


ID_ROUTES = _id_routes()


def test_the_sweep_knows_every_id_parameter():
    assert len(ID_ROUTES) >= 13
    unknown = {name for _, _, names in ID_ROUTES for name in names} - set(ID_TABLES)
    assert not unknown, f"map these id parameters to their tables: {unknown}"


@pytest.fixture
def other_orgs_ids(session: Session, demo) -> dict[str, int]:
    """One object of each kind in Globex (whose data Acme's admin must never reach)."""
    from spendlens.clv.service import create_fit
    from spendlens.config import get_settings
    from spendlens.users import invitations
    from spendlens.users.schemas import InvitationIn

    customer = create_customer(session, demo.globex)
    transaction = create_transaction(session, demo.globex, customer)
    user = create_user(session, demo.globex, role="viewer")
    fit = create_fit(
        session,
        demo.globex,
        user,
        ClvFitCreate(calibration_start=date(2025, 1, 1), calibration_end=date(2026, 1, 1)),
        today=demo.as_of,
    )
    from spendlens.prediction import service as prediction_service
    from spendlens.prediction.schemas import TrainRequest

    model = prediction_service.train(
        session,
        demo.globex,
        user,
        TrainRequest(target="purchase_30d", test_cutoff=date(2026, 5, 31)),
    )
    admin = create_user(session, demo.globex, role="admin")
    invitation, _ = invitations.create(
        session, admin, InvitationIn(email="invited@globex.example", role="viewer"), get_settings()
    )
    from spendlens.events import keys, service as events_service

    key, _ = keys.create(session, admin, "globex feed")
    events_service.ingest(
        session,
        demo.globex.id,
        [
            {
                "event_id": "6f1d8c1e-0000-4000-8000-00000000a001",
                "type": "login",
                "occurred_at": "2026-01-01T00:00:00Z",
                "customer": customer.external_id,
            }
        ],
    )
    from spendlens.alerts.schemas import RuleIn
    from spendlens.alerts.service import create_rule, evaluate
    from spendlens.alerts.signals import CustomerSignals

    rule = create_rule(
        session,
        demo.globex.id,
        admin,
        RuleIn(name="globex critical", kind="entered_critical", emails=["cs@globex.example"]),
    )
    evaluate(
        session.connection(),
        demo.globex.id,
        [CustomerSignals(customer.id, health_band="critical")],
        datetime(2026, 6, 30, tzinfo=UTC),
    )
    alert_id = session.execute(
        text("SELECT id FROM alerts WHERE org_id = :org AND rule_id = :rule"),
        {"org": demo.globex.id, "rule": rule.id},
    ).scalar_one()
    return {
        "rule_id": rule.id,
        "alert_id": alert_id,
        "key_id": key.id,
        "invitation_id": invitation.id,
        "user_id": user.id,
        "transaction_id": transaction.id,
        "customer_id": customer.id,
        "job_id": fit.job_id,
        "fit_id": fit.id,
        "model_id": model.id,
    }


def _state_of(session: Session, org_id: int, ids: dict[str, int]) -> dict[str, object]:
    """The targeted objects as JSON, and how many rows each tenant table holds for the org."""
    objects = {
        name: session.execute(
            text(f"SELECT to_jsonb(t) FROM {ID_TABLES[name]} t WHERE org_id = :org AND id = :id"),
            {"org": org_id, "id": object_id},
        ).scalar_one()
        for name, object_id in ids.items()
    }
    counts = {
        table: session.execute(
            text(f"SELECT count(*) FROM {table} WHERE org_id = :org"), {"org": org_id}
        ).scalar_one()
        for table in TENANT_TABLES
    }
    return {"objects": objects, "counts": counts}


PATH_ID_ROUTES = [r for r in ID_ROUTES if "{" in r[1]]
FILTER_ID_ROUTES = [r for r in ID_ROUTES if "{" not in r[1]]
MISSING_ID = 9_000_000_000_000


def _call(client, headers, method, path, names, ids):
    url, params = path, {}
    for name in names:
        if "{" + name + "}" in path:
            url = url.replace("{" + name + "}", str(ids[name]))
        else:
            params[name] = ids[name]
    return client.request(
        method, url, params=params, json=BODIES.get((method, path)), headers=headers
    )


@pytest.mark.parametrize(
    "method,path,names", PATH_ID_ROUTES, ids=[f"{m} {p}" for m, p, _ in PATH_ID_ROUTES]
)
def test_another_orgs_ids_answer_404_and_change_nothing(
    client, session, demo, auth_headers, other_orgs_ids, method, path, names
):
    before = _state_of(session, demo.globex.id, other_orgs_ids)
    headers = auth_headers("admin@acme.example")
    response = _call(client, headers, method, path, names, other_orgs_ids)
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "NotFound"
    assert _state_of(session, demo.globex.id, other_orgs_ids) == before


@pytest.mark.parametrize(
    "method,path,names", FILTER_ID_ROUTES, ids=[f"{m} {p}" for m, p, _ in FILTER_ID_ROUTES]
)
def test_another_orgs_ids_as_filters_answer_like_missing_ids(
    client, session, demo, auth_headers, other_orgs_ids, method, path, names
):
    headers = auth_headers("admin@acme.example")
    missing = {name: MISSING_ID for name in names}
    foreign = _call(client, headers, method, path, names, other_orgs_ids)
    absent = _call(client, headers, method, path, names, missing)
    assert foreign.status_code == absent.status_code
    assert foreign.content == absent.content


def test_the_same_calls_reach_the_objects_of_their_own_org(client, session, demo, other_orgs_ids):
    """The sweep's ids are real: Globex's own admin reaches them (so a 404 above means scoping);
    an object with no GET route of its own is reached by its DELETE."""
    headers = headers_for(create_user(session, demo.globex, role="admin"))
    for name, table in ID_TABLES.items():
        own = [(m, p) for m, p, names in PATH_ID_ROUTES if names == (name,) and p.endswith("}")]
        method, route = next(((m, p) for m, p in own if m == "GET"), own[0])
        url = route.replace("{" + name + "}", str(other_orgs_ids[name]))
        assert client.request(method, url, headers=headers).status_code < 300, (name, table)
