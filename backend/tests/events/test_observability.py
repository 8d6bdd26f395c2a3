"""Prometheus counters of events stored, duplicate and rejected by type, the ingest-latency
histogram, and the per-ingest-key rate limit."""

from __future__ import annotations

import re

from spendlens.config import get_settings
from spendlens.ratelimit import RateLimiter
from tests.builders import create_org, create_user, headers_for
from tests.events.helpers import event, post


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def test_counters_by_type_and_outcome_and_the_latency_histogram(client, session):
    org = create_org(session)
    headers = headers_for(create_user(session, org, role="analyst"))
    name = "spendlens_events_ingested_total"

    def counts() -> dict[tuple[str, str], float]:
        text = client.get("/metrics").text
        pairs = [
            ("login", "stored"),
            ("login", "duplicate"),
            ("custom", "stored"),
            ("invalid", "rejected"),
            ("payment_succeeded", "rejected"),
        ]
        observed = {p: _sample(text, name, type=p[0], outcome=p[1]) for p in pairs}
        observed[("batches", "")] = _sample(text, "spendlens_events_ingest_seconds_count")
        return observed

    before = counts()
    login = event("login", "c", "2026-01-01T00:00:00Z")
    batch = [
        login,
        login,
        event("login", "c", "2026-01-02T00:00:00Z"),
        event("custom.clicked", "c", "2026-01-02T00:00:00Z"),
        event("nonsense", "c", "2026-01-02T00:00:00Z"),
        event("payment_succeeded", "c", "2026-01-02T00:00:00Z", {"amount": "1.00"}),
    ]
    assert post(client, headers, batch).status_code == 200
    after = counts()
    delta = {key: after[key] - before[key] for key in before}
    assert delta == {
        ("login", "stored"): 2,
        ("login", "duplicate"): 1,
        ("custom", "stored"): 1,
        ("invalid", "rejected"): 1,
        ("payment_succeeded", "rejected"): 1,
        ("batches", ""): 1,
    }


def test_an_ingest_key_has_a_rate_limit_of_its_own(app, client, session):
    from spendlens.events import keys

    org = create_org(session)
    admin = create_user(session, org, role="admin")
    _, secret = keys.create(session, admin, "feed")
    app.state.rate_limiter = RateLimiter(
        get_settings().model_copy(update={"rate_limit_per_ingest_key": "2/minute"})
    )
    headers = {"Authorization": f"Bearer {secret}"}
    batch = [event("login", "c", "2026-01-01T00:00:00Z")]
    assert [post(client, headers, batch).status_code for _ in range(2)] == [200, 200]
    limited = post(client, headers, batch)
    assert limited.status_code == 429
    assert limited.json()["error"] == "TooManyRequests"
    # The analysts of the organisation are not held to the key's budget.
    assert post(client, headers_for(admin), batch).status_code == 200
