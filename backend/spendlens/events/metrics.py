"""Prometheus metrics of event ingest (served at /metrics with the rest).

- `spendlens_events_ingested_total{type, outcome}`: events by outcome (`stored`, `duplicate`,
  `rejected`); `type` is the documented type, `custom` for every `custom.*` type and `invalid`
  for a type that is neither, so the labels stay few.
- `spendlens_events_ingest_seconds`: time to check and store one batch (the request's own work,
  without HTTP and JSON parsing), and `spendlens_events_batch_size` its number of events.
"""

from __future__ import annotations

from collections import Counter as Tally

from prometheus_client import Counter, Histogram

EVENTS = Counter(
    "spendlens_events_ingested_total", "Events received, by type and outcome", ["type", "outcome"]
)
INGEST_SECONDS = Histogram(
    "spendlens_events_ingest_seconds",
    "Time to check and store one batch of events",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BATCH_SIZE = Histogram(
    "spendlens_events_batch_size",
    "Events per ingest request",
    buckets=(1, 10, 50, 100, 250, 500, 1000),
)


def observe_batch(outcomes: Tally[tuple[str, str]], seconds: float) -> None:
    for (event_type, outcome), count in outcomes.items():
        EVENTS.labels(type=event_type, outcome=outcome).inc(count)
    INGEST_SECONDS.observe(seconds)
    BATCH_SIZE.observe(sum(outcomes.values()))
