"""What a rule is evaluated on, per customer: the signals the health recompute and the churn model
produce. `spend_drop` is not among them: the evaluation computes it from the transactions.

`load_signals` is the one place that reads them for the `alerts.evaluate` job. The source is the
stored health scores (`health_signals`: the latest computation and the one before it). Churn
probabilities are not stored per customer yet (models score the test cutoff, and one customer on
demand), so `churn_probability` rules are not met until a scoring job stores them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class CustomerSignals:
    """One customer's latest signals; None where there is none (a rule needing it is not met)."""

    customer_id: int
    health_score: float | None = None
    # The score of the computation before the latest one.
    previous_health_score: float | None = None
    # "healthy", "at_risk" or "critical".
    health_band: str | None = None
    churn_probability: float | None = None


SignalSource = Callable[[Connection, int], Iterable[CustomerSignals]]


def no_signals(conn: Connection, org_id: int) -> Iterable[CustomerSignals]:
    """No health or churn signals are stored yet: only `spend_drop` rules can be met."""
    return ()


_HEALTH_SIGNALS = text("""
    WITH latest AS (
        SELECT id, row_number() OVER (ORDER BY as_of DESC) AS n
        FROM health_computations
        WHERE org_id = :org_id
        ORDER BY as_of DESC
        LIMIT 2
    )
    SELECT cur.customer_id, cur.score, cur.band, prev.score AS previous_score
    FROM health_scores cur
    JOIN latest l ON l.n = 1 AND cur.computation_id = l.id
    LEFT JOIN latest lp ON lp.n = 2
    LEFT JOIN health_scores prev
        ON prev.org_id = cur.org_id AND prev.computation_id = lp.id
        AND prev.customer_id = cur.customer_id
    WHERE cur.org_id = :org_id
""")


def health_signals(conn: Connection, org_id: int) -> Iterable[CustomerSignals]:
    """Every customer scored by the organisation's latest health computation, with the score of
    the computation before it (None for a customer it did not score, or when there is none)."""
    for row in conn.execute(_HEALTH_SIGNALS, {"org_id": org_id}):
        yield CustomerSignals(
            row.customer_id,
            health_score=row.score,
            previous_health_score=row.previous_score,
            health_band=row.band,
        )


_source: SignalSource = health_signals


def set_signal_source(source: SignalSource) -> None:
    """Make `source(conn, org_id)` what the `alerts.evaluate` job evaluates (every customer the
    organisation has signals for; one who is missing meets no health or churn rule)."""
    global _source
    _source = source


def load_signals(conn: Connection, org_id: int) -> list[CustomerSignals]:
    """The organisation's signals from the configured source (in `conn`'s transaction)."""
    return list(_source(conn, org_id))
