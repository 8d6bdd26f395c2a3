"""What a rule is evaluated on, per customer: the signals the health recompute and the churn model
produce. `spend_drop` is not among them: the evaluation computes it from the transactions.

`load_signals` is the one place that reads them for the `alerts.evaluate` job. Until the health
scores and churn predictions are stored, no source is set and the job evaluates `spend_drop` rules
only; the module that stores them points the job at its tables with `set_signal_source`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection


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


_source: SignalSource = no_signals


def set_signal_source(source: SignalSource) -> None:
    """Make `source(conn, org_id)` what the `alerts.evaluate` job evaluates (every customer the
    organisation has signals for; one who is missing meets no health or churn rule)."""
    global _source
    _source = source


def load_signals(conn: Connection, org_id: int) -> list[CustomerSignals]:
    """The organisation's signals from the configured source (in `conn`'s transaction)."""
    return list(_source(conn, org_id))
