"""Models API: an analyst trains on Globex's seeded data (the job run in the test's
transaction, as a worker would); every customer of the test population is predicted, their
`actual` equals the label computed here from the transactions and events, and the reported
metrics equal those recomputed from the predictions; roles, tenant isolation, validation."""

from __future__ import annotations

from collections import defaultdict
from contextlib import nullcontext
from datetime import UTC, date, timedelta

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sqlalchemy import Connection, text

from spendlens.jobs.runner import Progress, execute_job
from spendlens.prediction.job import execute_training

MODELS = "/api/v1/models"
PURCHASE = {"target": "purchase_30d", "test_cutoff": "2026-05-31"}
# Three training cutoffs keep the tests fast; the default is a year of them.
CHURN = {
    "target": "churn_90d",
    "test_cutoff": "2026-03-31",
    "train_cutoffs": ["2025-09-30", "2025-10-31", "2025-12-31"],
}


def run_here(connection: Connection, org_id: int, job_id: int):
    """Run a queued training job on the test's connection, as a worker would."""
    progress = Progress(lambda: nullcontext(connection), org_id, job_id)
    with connection.begin_nested():
        return execute_job(connection, progress, org_id, job_id, execute_training)


def train(client, connection, headers, org_id: int, body: dict) -> dict:
    response = client.post(f"{MODELS}/train", json=body, headers=headers)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["state"] == "queued"
    assert response.headers["Location"] == f"{MODELS}/{accepted['id']}"
    assert run_here(connection, org_id, accepted["job_id"]) is not None
    found = client.get(f"{MODELS}/{accepted['id']}", headers=headers)
    assert found.status_code == 200
    return found.json()


def all_predictions(client, headers, model_id: int) -> list[dict]:
    items, skip = [], 0
    while True:
        page = client.get(
            f"{MODELS}/{model_id}/predictions",
            params={"cutoff": "test", "skip": skip, "limit": 100},
            headers=headers,
        ).json()
        items += page["items"]
        skip += 100
        if skip >= page["total"]:
            assert len(items) == page["total"]
            return items


def labels_by_hand(session, org_id: int, target: str, cutoff: date) -> dict[int, bool]:
    """The issue's definitions, in plain Python over every purchase and event."""
    purchase_days, event_days = defaultdict(set), defaultdict(set)
    for customer_id, at in session.execute(
        text(
            "SELECT customer_id, occurred_at FROM transactions "
            "WHERE org_id = :org AND kind = 'purchase'"
        ),
        {"org": org_id},
    ):
        purchase_days[customer_id].add(at.astimezone(UTC).date())
    for customer_id, at in session.execute(
        text("SELECT customer_id, occurred_at FROM events WHERE org_id = :org"), {"org": org_id}
    ):
        event_days[customer_id].add(at.astimezone(UTC).date())
    labels = {}
    for customer_id, days in purchase_days.items():
        if target == "purchase_30d":
            if min(days) <= cutoff:
                after = {cutoff + timedelta(days=k) for k in range(1, 31)}
                labels[customer_id] = bool(days & after)
        else:
            if any(cutoff - timedelta(days=364) <= d <= cutoff for d in days):
                after = {cutoff + timedelta(days=k) for k in range(1, 91)}
                labels[customer_id] = not (days & after) and not (event_days[customer_id] & after)
    return labels


def recomputed(predictions: list[dict], prefix: str = "") -> dict:
    y = np.array([p["actual"] for p in predictions], dtype=int)
    probability = np.array([p[f"{prefix}probability"] for p in predictions])
    predicted = np.array([p[f"{prefix}predicted"] for p in predictions], dtype=int)
    tn, fp, fn, tp = confusion_matrix(y, predicted, labels=[0, 1]).ravel().tolist()
    return {
        "rows": len(y),
        "positives": int(y.sum()),
        "accuracy": accuracy_score(y, predicted),
        "precision": precision_score(y, predicted, zero_division=0.0),
        "recall": recall_score(y, predicted, zero_division=0.0),
        "f1": f1_score(y, predicted, zero_division=0.0),
        "roc_auc": roc_auc_score(y, probability),
        "pr_auc": average_precision_score(y, probability),
        "confusion_matrix": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
    }


@pytest.fixture
def globex_analyst(auth_headers):
    return auth_headers("analyst@globex.example")


class TestTrainPurchaseModel:
    def test_trained_predicted_and_measured_honestly(
        self, client, connection, session, demo, globex_analyst
    ):
        model = train(client, connection, globex_analyst, demo.globex.id, PURCHASE)
        assert model["state"] == "done", model
        assert model["error"] is None and model["version"] == 1 and model["active"] is False
        assert model["algorithm"] == "hist_gradient_boosting"
        assert model["baseline_features"] == ["recency_days", "frequency", "monetary"]
        window = model["training_window"]
        assert window["train_cutoffs"][0] == "2025-05-31"
        assert window["train_cutoffs"][-1] == "2026-04-30" and len(window["train_cutoffs"]) == 12
        assert window["last_label_day"] == "2026-06-30"
        assert 0 < model["threshold"] < 1 and "out-of-fold" in model["threshold_method"]
        assert {i["feature"] for i in model["importances"]["model"]} == set(model["features"])

        predictions = all_predictions(client, globex_analyst, model["id"])
        expected = labels_by_hand(session, demo.globex.id, "purchase_30d", date(2026, 5, 31))
        assert {p["customer_id"]: p["actual"] for p in predictions} == expected
        for p in predictions:
            assert p["predicted"] == (p["probability"] >= model["threshold"])

        for name, prefix in (("model", ""), ("baseline", "baseline_")):
            reported = model["metrics"][name]
            for key, value in recomputed(predictions, prefix).items():
                assert reported[key] == pytest.approx(value, abs=1e-12), (name, key)
            assert sum(b["rows"] for b in reported["calibration"]) == len(predictions)
        # On the demo data the model is useful, not only right by prevalence.
        metrics = model["metrics"]["model"]
        assert metrics["f1"] >= 0.70 and metrics["roc_auc"] > 0.9

        job = client.get(f"/api/v1/jobs/{model['job_id']}", headers=globex_analyst).json()
        assert job["kind"] == "model_train" and job["state"] == "succeeded"
        assert job["params"]["model_id"] == model["id"]

        # Activation, then the customer's prediction as of today comes from this model.
        activated = client.post(f"{MODELS}/{model['id']}/activate", headers=globex_analyst)
        assert activated.status_code == 200 and activated.json()["active"] is True
        customer_id = predictions[0]["customer_id"]
        scored = client.get(
            f"/api/v1/customers/{customer_id}/prediction", headers=globex_analyst
        ).json()
        (purchase,) = scored["predictions"]
        assert purchase["target"] == "purchase_30d" and purchase["model_id"] == model["id"]
        assert purchase["active"] is True and purchase["in_population"] is True
        assert 0 <= purchase["probability"] <= 1
        assert purchase["predicted"] == (purchase["probability"] >= model["threshold"])

        # A second model of the target is version 2; activating it deactivates the first.
        second = train(client, connection, globex_analyst, demo.globex.id, {
            **PURCHASE, "train_cutoffs": ["2026-01-31", "2026-02-28"]})  # fmt: skip
        assert second["version"] == 2
        client.post(f"{MODELS}/{second['id']}/activate", headers=globex_analyst)
        listed = client.get(MODELS, params={"target": "purchase_30d"}, headers=globex_analyst)
        assert [(m["id"], m["active"]) for m in listed.json()["items"]] == [
            (second["id"], True),
            (model["id"], False),
        ]


class TestTrainChurnModel:
    def test_actual_is_the_churn_label(self, client, connection, session, demo, globex_analyst):
        model = train(client, connection, globex_analyst, demo.globex.id, CHURN)
        assert model["state"] == "done", model
        assert model["training_window"]["horizon_days"] == 90
        predictions = all_predictions(client, globex_analyst, model["id"])
        expected = labels_by_hand(session, demo.globex.id, "churn_90d", date(2026, 3, 31))
        assert {p["customer_id"]: p["actual"] for p in predictions} == expected
        assert 0 < sum(expected.values()) < len(expected)
        reported = model["metrics"]["model"]
        for key, value in recomputed(predictions).items():
            assert reported[key] == pytest.approx(value, abs=1e-12), key


class TestTooLittleData:
    def test_a_model_of_an_empty_organisation_fails_and_says_why(self, client, connection, session):
        from tests.builders import create_org, create_user, headers_for

        org = create_org(session)
        headers = headers_for(create_user(session, org, role="analyst"))
        model = train(client, connection, headers, org.id, PURCHASE)
        assert model["state"] == "failed"
        assert "Too little to train on" in model["error"]
        response = client.get(f"{MODELS}/{model['id']}/predictions", headers=headers)
        assert response.status_code == 409


class TestRolesAndTenancy:
    @pytest.fixture
    def queued(self, client, globex_analyst) -> dict:
        response = client.post(f"{MODELS}/train", json=PURCHASE, headers=globex_analyst)
        assert response.status_code == 202
        return response.json()

    def test_viewers_read_but_cannot_train_or_activate(self, client, auth_headers, demo):
        viewer = auth_headers("viewer@acme.example")
        assert client.post(f"{MODELS}/train", json=PURCHASE, headers=viewer).status_code == 403
        assert client.get(MODELS, headers=viewer).status_code == 200
        admin = auth_headers("admin@acme.example")
        model = client.post(f"{MODELS}/train", json=PURCHASE, headers=admin).json()
        assert client.get(f"{MODELS}/{model['id']}", headers=viewer).status_code == 200
        assert client.post(f"{MODELS}/{model['id']}/activate", headers=viewer).status_code == 403

    def test_anonymous_gets_401(self, client):
        assert client.get(MODELS).status_code == 401
        assert client.post(f"{MODELS}/train", json=PURCHASE).status_code == 401

    def test_another_organisations_model_is_404(self, client, auth_headers, queued):
        acme = auth_headers("admin@acme.example")
        for method, path in (
            ("GET", f"{MODELS}/{queued['id']}"),
            ("GET", f"{MODELS}/{queued['id']}/predictions"),
            ("POST", f"{MODELS}/{queued['id']}/activate"),
        ):
            assert client.request(method, path, headers=acme).status_code == 404, path
        assert client.get(MODELS, headers=acme).json()["total"] == 0

    def test_a_queued_model_cannot_be_activated_or_read(self, client, globex_analyst, queued):
        assert queued["state"] == "queued"
        for method, path in (
            ("POST", f"{MODELS}/{queued['id']}/activate"),
            ("GET", f"{MODELS}/{queued['id']}/predictions"),
        ):
            assert client.request(method, path, headers=globex_analyst).status_code == 409

    def test_another_organisations_customer_is_404(self, client, auth_headers, session, demo):
        globex_customer = session.execute(
            text("SELECT id FROM customers WHERE org_id = :org LIMIT 1"), {"org": demo.globex.id}
        ).scalar_one()
        response = client.get(
            f"/api/v1/customers/{globex_customer}/prediction",
            headers=auth_headers("viewer@acme.example"),
        )
        assert response.status_code == 404

    def test_without_a_model_a_customer_has_no_predictions(
        self, client, auth_headers, session, demo
    ):
        customer = session.execute(
            text("SELECT id FROM customers WHERE org_id = :org LIMIT 1"), {"org": demo.acme.id}
        ).scalar_one()
        found = client.get(
            f"/api/v1/customers/{customer}/prediction", headers=auth_headers("viewer@acme.example")
        ).json()
        assert found["customer_id"] == customer and found["predictions"] == []


class TestValidation:
    @pytest.mark.parametrize(
        "body,where,words",
        [
            ({"target": "upsell", "test_cutoff": "2026-05-31"}, "target", ""),
            ({"target": "purchase_30d"}, "test_cutoff", ""),
            ({**PURCHASE, "test_cutoff": "2099-01-01"}, "test_cutoff", "before today"),
            ({**PURCHASE, "train_cutoffs": ["2026-05-02"]}, "train_cutoffs", "2026-05-02"),
            ({**PURCHASE, "train_cutoffs": ["2026-01-31", "2026-01-31"]}, "train_cutoffs",
             "repeats"),
            ({**PURCHASE, "train_cutoffs": []}, "train_cutoffs", ""),
            ({**PURCHASE, "extra": 1}, "extra", ""),
        ],
    )  # fmt: skip
    def test_bad_bodies_are_422(self, client, auth_headers, body, where, words):
        response = client.post(
            f"{MODELS}/train", json=body, headers=auth_headers("analyst@acme.example")
        )
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert any(where in map(str, d["loc"]) for d in detail), detail
        assert any(words in d["msg"] for d in detail), detail

    def test_the_test_label_window_must_have_ended(self, client, auth_headers):
        from spendlens.kit.dates import today_utc

        recent = (today_utc() - timedelta(days=30)).isoformat()
        response = client.post(
            f"{MODELS}/train",
            json={"target": "purchase_30d", "test_cutoff": recent},
            headers=auth_headers("analyst@acme.example"),
        )
        assert response.status_code == 422
        yesterday = (today_utc() - timedelta(days=31)).isoformat()
        response = client.post(
            f"{MODELS}/train",
            json={"target": "purchase_30d", "test_cutoff": yesterday},
            headers=auth_headers("analyst@acme.example"),
        )
        assert response.status_code == 202

    def test_unknown_cutoff_kind_is_422(self, client, auth_headers):
        response = client.get(
            f"{MODELS}/1/predictions",
            params={"cutoff": "train"},
            headers=auth_headers("viewer@acme.example"),
        )
        assert response.status_code == 422
