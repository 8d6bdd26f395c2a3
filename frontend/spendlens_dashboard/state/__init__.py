"""Session state in param classes: who is logged in, the filters, and the data stores."""

from spendlens_dashboard.state.filters import PRESETS, Filters
from spendlens_dashboard.state.session import Session
from spendlens_dashboard.state.stores import (
    CatalogStore,
    OverviewStore,
    PagedStore,
    Store,
    TransactionsStore,
)

__all__ = [
    "PRESETS",
    "CatalogStore",
    "Filters",
    "OverviewStore",
    "PagedStore",
    "Session",
    "Store",
    "TransactionsStore",
]
