"""Spending metrics as definitions that emit SQL: a slug, a label, a formula and an aggregate.

The summary, the time series and the breakdown all aggregate through these objects, so a metric
means the same thing on every route. `sql(t, when)` gives the aggregate over the transactions whose
columns are `t`, restricted to the rows matching `when` (a FILTER clause), which lets one query
compute the same metric for several periods at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import BigInteger, ColumnElement, Numeric, and_, cast, func, literal
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.expression import ColumnCollection

from spendlens.models.rules import is_purchase

MetricKind = Literal["money", "count"]
Condition = ColumnElement[bool]
Aggregate = Callable[[ColumnCollection, Condition | None], ColumnElement]


def _filtered(aggregate: FunctionElement, when: Condition | None) -> ColumnElement:
    return aggregate if when is None else aggregate.filter(when)


def _purchases(t: ColumnCollection, when: Condition | None) -> Condition:
    return is_purchase(t) if when is None else and_(is_purchase(t), when)


def _zero_money() -> ColumnElement:
    return literal(0, Numeric(14, 2))


def _total_spend(t: ColumnCollection, when: Condition | None) -> ColumnElement:
    return func.coalesce(_filtered(func.sum(t.amount), when), _zero_money())


def _transaction_count(t: ColumnCollection, when: Condition | None) -> ColumnElement:
    return func.count().filter(_purchases(t, when))


def _average_transaction(t: ColumnCollection, when: Condition | None) -> ColumnElement:
    average = func.avg(t.amount).filter(_purchases(t, when))
    return func.coalesce(func.round(average, 2), _zero_money())


def _median_transaction(t: ColumnCollection, when: Condition | None) -> ColumnElement:
    # percentile_cont only takes double precision: feed it whole cents (exact in a double), so the
    # median is a whole number of cents or exactly half a cent, which round() takes away from zero.
    cents = cast(t.amount * 100, BigInteger)
    median_cents = func.percentile_cont(0.5).within_group(cents).filter(_purchases(t, when))
    median = func.round(func.round(cast(median_cents, Numeric)) / 100, 2)
    return func.coalesce(median, _zero_money())


def _active_customers(t: ColumnCollection, when: Condition | None) -> ColumnElement:
    return func.count(t.customer_id.distinct()).filter(_purchases(t, when))


@dataclass(frozen=True)
class MetricDefinition:
    slug: str
    label: str
    kind: MetricKind
    formula: str
    aggregate: Aggregate

    def sql(self, t: ColumnCollection, when: Condition | None = None) -> ColumnElement:
        """This metric over the rows of `t` (transactions columns) that match `when`."""
        return self.aggregate(t, when)


TOTAL_SPEND = MetricDefinition(
    slug="total_spend",
    label="Total spend",
    kind="money",
    formula="sum(amount) over purchases and refunds: refunds are negative and subtract",
    aggregate=_total_spend,
)
TRANSACTION_COUNT = MetricDefinition(
    slug="transaction_count",
    label="Transactions",
    kind="count",
    formula="count of purchases (refunds are not counted)",
    aggregate=_transaction_count,
)
AVERAGE_TRANSACTION = MetricDefinition(
    slug="average_transaction",
    label="Average transaction",
    kind="money",
    formula="round(avg(amount) over purchases, 2), half away from zero; 0 without purchases",
    aggregate=_average_transaction,
)
MEDIAN_TRANSACTION = MetricDefinition(
    slug="median_transaction",
    label="Median transaction",
    kind="money",
    formula=(
        "percentile_cont(0.5) over purchase amounts in whole cents, rounded half away from zero "
        "to a cent; 0 without purchases"
    ),
    aggregate=_median_transaction,
)
ACTIVE_CUSTOMERS = MetricDefinition(
    slug="active_customers",
    label="Active customers",
    kind="count",
    formula="count of distinct customers with at least one purchase",
    aggregate=_active_customers,
)

SUMMARY_METRICS: tuple[MetricDefinition, ...] = (
    TOTAL_SPEND,
    TRANSACTION_COUNT,
    AVERAGE_TRANSACTION,
    MEDIAN_TRANSACTION,
    ACTIVE_CUSTOMERS,
)
TIMESERIES_METRICS: tuple[MetricDefinition, ...] = (
    TOTAL_SPEND,
    TRANSACTION_COUNT,
    ACTIVE_CUSTOMERS,
)
BREAKDOWN_METRICS: tuple[MetricDefinition, ...] = (TOTAL_SPEND, TRANSACTION_COUNT)
