"""The customers list (searched, filtered, sorted and paged by the API) and one customer's detail.

Neither follows the shared date filters: customers have filters of their own.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import param

from spendlens_dashboard.formatting import format_count, format_money
from spendlens_dashboard.state.analytics import fallback_label
from spendlens_dashboard.state.stores import PagedStore, Store

CUSTOMER_SORTS = [
    "name",
    "-name",
    "signup",
    "-signup",
    "total_spend",
    "-total_spend",
    "last_purchase",
    "-last_purchase",
    "clv",
    "-clv",
]
LIFECYCLE_STAGES = ["lead", "prospect", "customer", "churned"]
# The email is searchable and on the customer's page; the table's room goes to RFM and CLV.
CUSTOMER_COLUMNS = [
    "id",
    "name",
    "country",
    "lifecycle_stage",
    "segment",
    "total_spend",
    "clv",
    "p_alive",
    "transaction_count",
    "last_purchase",
    "external_id",
    "signup_date",
]


def customers_frame(items: list[dict], currency: str) -> pd.DataFrame:
    frame = pd.DataFrame(items, columns=CUSTOMER_COLUMNS)
    for column in ("external_id", "name", "country", "lifecycle_stage", "signup_date"):
        frame[column] = frame[column].fillna("")
    frame["last_purchase"] = [
        (v or "")[:10] if isinstance(v, str) or v is None else str(v)
        for v in frame["last_purchase"]
    ]
    frame["total_spend"] = [format_money(v, currency) for v in frame["total_spend"]]
    frame["transaction_count"] = [format_count(v) for v in frame["transaction_count"]]
    # Latest RFM snapshot and CLV fit; empty until a recompute or a fit has run.
    frame["segment"] = [fallback_label(v) if isinstance(v, str) else "" for v in frame["segment"]]
    frame["clv"] = [
        "" if v is None or pd.isna(v) else format_money(v, currency) for v in frame["clv"]
    ]
    frame["p_alive"] = [
        "" if v is None or pd.isna(v) else f"{float(v):.0%}" for v in frame["p_alive"]
    ]
    # Text columns stay text even when empty (the table picks its formatters from the dtypes).
    return frame.astype({c: "object" for c in CUSTOMER_COLUMNS if c != "id"})


def parse_countries(text: str) -> list[str]:
    """'de, FR  nl' → ['DE', 'FR', 'NL']."""
    return [c.upper() for c in text.replace(",", " ").split() if c.strip()]


class CustomersStore(PagedStore):
    """One page of the organisation's customers."""

    q = param.String(default="")
    countries = param.List(default=[], item_type=str)
    signup_from = param.Date(default=None, allow_None=True)
    signup_to = param.Date(default=None, allow_None=True)
    lifecycle_stage = param.String(default="")
    segments = param.List(default=[], item_type=str, doc="RFM segments (latest stored snapshot)")
    sort = param.Selector(objects=CUSTOMER_SORTS, default="name")
    currency = param.String(default="USD")

    items = param.DataFrame(default=None, allow_None=True)

    def query_params(self) -> dict:
        params: dict[str, Any] = {}
        if self.q.strip():
            params["q"] = self.q.strip()
        if self.countries:
            params["country"] = list(self.countries)
        if self.signup_from:
            params["signup_from"] = self.signup_from.isoformat()
        if self.signup_to:
            params["signup_to"] = self.signup_to.isoformat()
        if self.lifecycle_stage:
            params["lifecycle_stage"] = self.lifecycle_stage
        if self.segments:
            params["segment"] = list(self.segments)
        return params

    @param.depends(
        "q",
        "countries",
        "signup_from",
        "signup_to",
        "lifecycle_stage",
        "segments",
        "sort",
        watch=True,
    )
    def _query_changed(self) -> None:
        self.first_page()

    def _fetch(self) -> dict[str, Any]:
        answer = self.client.list_customers(
            self.query_params(), sort=self.sort, **self.page_params()
        )
        return {"items": customers_frame(answer["items"], self.currency), "total": answer["total"]}


class CustomerDetailStore(Store):
    """GET /customers/{id} of the customer being looked at."""

    customer_id = param.Integer(default=None, allow_None=True)
    detail = param.Dict(default=None, allow_None=True)

    @param.depends("customer_id", watch=True)
    def _customer_changed(self) -> None:
        if self.customer_id is not None:
            self.load()

    def _fetch(self) -> dict[str, Any]:
        if self.customer_id is None:
            return {"detail": None}
        return {"detail": self.client.get_customer(self.customer_id)}
