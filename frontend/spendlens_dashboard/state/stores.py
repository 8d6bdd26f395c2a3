"""Data stores: each calls the API when the filters (or its own options) change and keeps the
answer as DataFrames for the views. `store.param.trigger('refresh')` loads again on demand.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
import param

from spendlens_dashboard.api import ApiClient, ApiError
from spendlens_dashboard.background import in_background
from spendlens_dashboard.api.client import MetricsBreakdown, MetricsTimeseries, TransactionPage
from spendlens_dashboard.state.filters import Filters

logger = logging.getLogger("spendlens_dashboard")

# API calls of one refresh run side by side; shared by all sessions of the process.
API_CALLS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="spendlens-api")

TIMESERIES_COLUMNS = [
    "period_start",
    "total_spend",
    "transaction_count",
    "active_customers",
    "days",
    "partial",
]
BREAKDOWN_COLUMNS = ["label", "total_spend", "transaction_count", "share"]
TRANSACTION_COLUMNS = [
    "id",
    "occurred_at",
    "customer_id",
    "customer_name",
    "merchant",
    "category",
    "description",
    "quantity",
    "kind",
    "amount",
    "currency",
]


def timeseries_frame(answer: MetricsTimeseries) -> pd.DataFrame:
    frame = pd.DataFrame(answer["points"], columns=TIMESERIES_COLUMNS)
    frame["period_start"] = pd.to_datetime(frame["period_start"])
    frame["total_spend"] = frame["total_spend"].astype(float)
    frame["partial"] = frame["partial"].fillna(False).astype(bool)
    return frame


def breakdown_frame(
    answer: MetricsBreakdown,
    *,
    include_other: bool = True,
    categories: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Breakdown items (and a non-empty 'Other' row) as label, total_spend, count, share
    (+ category: the merchant's default category when `categories` maps names to them)."""
    rows = [
        {
            "label": item["label"],
            "total_spend": float(item["total_spend"]),
            "transaction_count": item["transaction_count"],
            "share": item["share"],
        }
        for item in answer["items"]
    ]
    other = answer["other"]
    if include_other and other["count"] > 0 and float(other["total_spend"]) != 0:
        rows.append(
            {
                "label": other["label"],
                "total_spend": float(other["total_spend"]),
                "transaction_count": other["transaction_count"],
                "share": other["share"],
            }
        )
    frame = pd.DataFrame(rows, columns=BREAKDOWN_COLUMNS)
    if categories is not None:
        frame["category"] = [categories.get(label, "") for label in frame["label"]]
    return frame


def transactions_frame(page: TransactionPage) -> pd.DataFrame:
    frame = pd.DataFrame(page["items"], columns=TRANSACTION_COLUMNS)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True).dt.strftime(
        "%Y-%m-%d %H:%M"
    )
    frame["customer_name"] = frame["customer_name"].fillna("")
    frame["merchant"] = frame["merchant"].fillna("")
    return frame


class Store(param.Parameterized):
    """Common life cycle: loading flag, last error, a refresh event and stale-answer protection."""

    loading = param.Boolean(default=False, doc="True while an API call is on the way")
    error = param.ClassSelector(class_=ApiError, default=None, allow_None=True)
    refresh = param.Event(doc="Load again from the API")
    loaded = param.Integer(default=0, doc="How many loads finished (views and tests wait on it)")

    def __init__(self, client: ApiClient, **params) -> None:
        super().__init__(**params)
        self.client = client
        self._generation = 0
        # Reentrant: a watcher of an answer may start the next load on this same thread.
        self._lock = threading.RLock()
        self.param.watch(lambda _: self.load(), "refresh")

    def _begin(self) -> int:
        with self._lock:
            self._generation += 1
            generation = self._generation
        self.param.update(loading=True, error=None)
        return generation

    def _current(self, generation: int) -> bool:
        return generation == self._generation

    def _finish(self, generation: int, values: dict[str, Any], error: ApiError | None) -> None:
        """Apply an answer unless a newer load started meanwhile (its answer wins). Checked and
        applied under the lock, so an older answer never lands after a newer load began."""
        with self._lock:
            if not self._current(generation):
                return
            if error is not None:
                self.param.update(loading=False, error=error)
                return
            self.param.update(**values, loading=False, loaded=self.loaded + 1)

    def load(self) -> None:
        """Fetch from the API: on a worker thread when serving a browser, at once otherwise."""
        in_background(self.fetch)

    def fetch(self) -> None:
        """Fetch from the API now, on this thread; failures end up in `error`, never raised."""
        generation = self._begin()
        try:
            values = self._fetch()
        except ApiError as exc:
            self._finish(generation, {}, exc)
            return
        except Exception as exc:  # a bug, or an answer of an unexpected shape
            logger.exception("loading %s failed", type(self).__name__)
            error = ApiError(None, "UnexpectedAnswer", f"{type(exc).__name__}: {exc}")
            self._finish(generation, {}, error)
            return
        self._finish(generation, values, None)

    def _fetch(self) -> dict[str, Any]:
        """Call the API and return the new parameter values."""
        raise NotImplementedError


class PagedStore(Store):
    """One page of a list the API pages with skip/limit ({items, total, skip, limit}): a new
    page number loads it; a new query goes back to the first page."""

    page = param.Integer(default=1, bounds=(1, None))
    page_size = param.Integer(default=20, bounds=(1, 100))
    total = param.Integer(default=0, doc="Items in the whole list, every page")

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.page_size))

    def page_params(self) -> dict[str, int]:
        """The skip and limit of the current page."""
        return {"skip": (self.page - 1) * self.page_size, "limit": self.page_size}

    def first_page(self) -> None:
        """Load the first page of a changed query (once: the page watcher loads it)."""
        if self.page != 1:
            self.page = 1
        else:
            self.load()

    @param.depends("page", watch=True)
    def _page_changed(self) -> None:
        self.load()


class CatalogStore(Store):
    """What the filter pickers offer: every category and every merchant of the organisation."""

    categories = param.List(default=[], item_type=str)
    merchants = param.List(default=[], item_type=dict)

    @property
    def merchant_names(self) -> list[str]:
        return [m["name"] for m in self.merchants]

    @property
    def merchant_categories(self) -> dict[str, str]:
        return {m["name"]: m["default_category"] or "" for m in self.merchants}

    def _fetch(self) -> dict[str, Any]:
        categories = API_CALLS.submit(self.client.categories)
        merchants = self.client.all_merchants()
        return {
            "categories": sorted(c["category"] for c in categories.result()),
            "merchants": merchants,
        }


class FilteredStore(Store):
    """A store that follows the shared filters."""

    filters = param.ClassSelector(class_=Filters, constant=True)

    def __init__(self, client: ApiClient, filters: Filters, **params) -> None:
        super().__init__(client, filters=filters, **params)
        self._filter_watcher = filters.param.watch(
            self._filters_changed, list(Filters.QUERY_FIELDS)
        )

    def _filters_changed(self, *events) -> None:
        self.load()

    def dispose(self) -> None:
        """Stop following the filters (the store is being thrown away, e.g. at logout)."""
        self.filters.param.unwatch(self._filter_watcher)


class OverviewStore(FilteredStore):
    """Headline figures, spend over time, spend by category and top merchants."""

    interval = param.Selector(objects=["day", "week", "month"], default="day")
    top_merchants = param.Integer(default=10, bounds=(1, 100))

    summary = param.Dict(default=None, allow_None=True, doc="GET /metrics")
    timeseries = param.DataFrame(default=None, allow_None=True)
    categories = param.DataFrame(default=None, allow_None=True)
    merchants = param.DataFrame(default=None, allow_None=True)

    @property
    def currency(self) -> str:
        return self.summary["currency"] if self.summary else ""

    @property
    def is_empty(self) -> bool:
        """Nothing matches the filters: no purchase and no refund in the period."""
        if not self.summary:
            return False
        return self.summary["transaction_count"] == 0 and float(self.summary["total_spend"]) == 0

    @param.depends("interval", "top_merchants", watch=True)
    def _options_changed(self) -> None:
        # A full load (its calls run side by side) keeps every chart from the same answer.
        self.load()

    def _fetch(self) -> dict[str, Any]:
        params = self.filters.query_params()
        calls = {
            "summary": API_CALLS.submit(self.client.metrics, params),
            "timeseries": API_CALLS.submit(self.client.timeseries, params, interval=self.interval),
            "categories": API_CALLS.submit(self.client.breakdown, params, by="category", top=25),
            "merchants": API_CALLS.submit(
                self.client.breakdown, params, by="merchant", top=self.top_merchants
            ),
        }
        answers = {name: call.result() for name, call in calls.items()}
        return {
            "summary": answers["summary"],
            "timeseries": timeseries_frame(answers["timeseries"]),
            "categories": breakdown_frame(answers["categories"]),
            "merchants": breakdown_frame(answers["merchants"], include_other=False),
        }


class TransactionsStore(PagedStore, FilteredStore):
    """One page of the filtered transactions, sorted and searched by the API."""

    q = param.String(default="", doc="Free-text search (description, category, merchant)")
    sort = param.Selector(objects=["-date", "date", "-amount", "amount"], default="-date")

    items = param.DataFrame(default=None, allow_None=True)

    def query_params(self) -> dict:
        """The filters plus the search: what the table and its CSV export both ask for."""
        params = dict(self.filters.query_params())
        if self.q.strip():
            params["q"] = self.q.strip()
        return params

    def _filters_changed(self, *events) -> None:
        self.first_page()

    @param.depends("q", "sort", "page_size", watch=True)
    def _query_changed(self) -> None:
        self.first_page()

    def _fetch(self) -> dict[str, Any]:
        page = self.client.list_transactions(
            self.query_params(), sort=self.sort, **self.page_params()
        )
        return {"items": transactions_frame(page), "total": page["total"]}
