"""One module per page; PAGES maps each page's slug to its view class."""

from spendlens_dashboard.pages.cohorts import CohortsPage
from spendlens_dashboard.pages.customers import CustomersPage
from spendlens_dashboard.pages.data import DataPage
from spendlens_dashboard.pages.journey import JourneyPage
from spendlens_dashboard.pages.clv import ClvPage
from spendlens_dashboard.pages.login import LoginPage
from spendlens_dashboard.pages.overview import OverviewPage
from spendlens_dashboard.pages.segments import SegmentsPage
from spendlens_dashboard.pages.transactions import TransactionsPage

PAGES = {
    "login": LoginPage,
    "overview": OverviewPage,
    "transactions": TransactionsPage,
    "customers": CustomersPage,
    "segments": SegmentsPage,
    "cohorts": CohortsPage,
    "clv": ClvPage,
    "journey": JourneyPage,
    "data": DataPage,
}
# The pages a logged-in user navigates between, in menu order.
NAVIGATION = (
    "overview",
    "transactions",
    "customers",
    "segments",
    "cohorts",
    "clv",
    "journey",
    "data",
)

__all__ = [
    "NAVIGATION",
    "PAGES",
    "CohortsPage",
    "CustomersPage",
    "DataPage",
    "JourneyPage",
    "ClvPage",
    "LoginPage",
    "OverviewPage",
    "SegmentsPage",
    "TransactionsPage",
]
