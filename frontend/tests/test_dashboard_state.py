"""State without a browser: filters → query parameters, stores refreshed against the live API,
the session's login/logout/expiry, and the App's reactions to them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest
from dashboard_support import ANALYST, DEMO_PASSWORD, VIEWER, logged_in_client

from spendlens_dashboard.api import ApiClient, ApiError, ApiUnreachable
from spendlens_dashboard.app import App
from spendlens_dashboard.components.filter_bar import FilterBar
from spendlens_dashboard.components.table import ApiPagedTabulator
from spendlens_dashboard.config import DashboardSettings
from spendlens_dashboard.export import DOWNLOAD_KEYS, DownloadKeys, export_href
from spendlens_dashboard.formatting import format_change, format_money
from spendlens_dashboard.pages.login import login_failure_message, retry_sentence
from spendlens_dashboard.state import (
    CatalogStore,
    Filters,
    OverviewStore,
    Session,
    TransactionsStore,
)
from spendlens_dashboard.state.filters import one_year_before

TODAY = date(2026, 6, 30)


class TestFilters:
    @pytest.mark.parametrize(
        ("preset", "start"),
        [
            ("last_30_days", "2026-06-01"),
            ("last_90_days", "2026-04-02"),
            ("year_to_date", "2026-01-01"),
            ("last_12_months", "2025-07-01"),
        ],
    )
    def test_presets_end_today(self, preset: str, start: str):
        params = Filters(today=TODAY, preset=preset).query_params()
        assert params == {"start_date": start, "end_date": "2026-06-30"}

    def test_custom_range_is_used_as_given_and_ordered(self):
        f = Filters(
            today=TODAY, preset="custom", start_date=date(2026, 3, 5), end_date=date(2026, 3, 1)
        )
        assert f.query_params() == {"start_date": "2026-03-01", "end_date": "2026-03-05"}

    def test_custom_without_dates_falls_back_to_last_30_days(self):
        assert Filters(today=TODAY, preset="custom").period() == (date(2026, 6, 1), TODAY)

    def test_every_filter_maps_to_its_api_parameter(self):
        f = Filters(
            today=TODAY,
            categories=["Travel", "Groceries"],
            merchants=["FreshMart"],
            min_amount=10,
            max_amount=99.5,
        )
        assert f.query_params() == {
            "start_date": "2026-06-01",
            "end_date": "2026-06-30",
            "category": ["Travel", "Groceries"],
            "merchant": ["FreshMart"],
            "min_amount": "10.00",
            "max_amount": "99.50",
        }

    def test_a_reversed_amount_range_is_swapped(self):
        params = Filters(today=TODAY, min_amount=50, max_amount=5).query_params()
        assert (params["min_amount"], params["max_amount"]) == ("5.00", "50.00")

    def test_leap_day_year_back(self):
        assert one_year_before(date(2028, 2, 29)) == date(2027, 2, 28)

    def test_reset(self):
        f = Filters(today=TODAY, preset="last_90_days", categories=["Travel"], min_amount=3)
        f.reset()
        assert f.query_params() == {"start_date": "2026-06-01", "end_date": "2026-06-30"}


@pytest.fixture
def client(analyst_client: ApiClient) -> ApiClient:
    return analyst_client


class TestOverviewStore:
    def test_refresh_loads_every_chart_frame(self, client: ApiClient):
        store = OverviewStore(client, Filters(today=TODAY))
        store.param.trigger("refresh")
        assert store.error is None and not store.loading and store.loaded == 1
        assert store.summary["period"]["start_date"] == "2026-06-01"
        assert list(store.timeseries.columns[:2]) == ["period_start", "total_spend"]
        assert len(store.timeseries) == 30
        assert store.timeseries["total_spend"].sum() == pytest.approx(
            float(store.summary["total_spend"]), abs=0.05
        )
        assert "Travel" in set(store.categories["label"])
        assert len(store.merchants) == 10
        store.dispose()

    def test_a_filter_change_reloads_with_the_new_parameters(self, client: ApiClient):
        filters = Filters(today=TODAY)
        store = OverviewStore(client, filters)
        store.param.trigger("refresh")
        everything = store.summary["transaction_count"]
        filters.categories = ["Travel"]
        assert store.loaded == 2
        assert list(store.categories["label"]) == ["Travel"]
        assert 0 < store.summary["transaction_count"] < everything
        assert store.summary == client.metrics(filters.query_params())
        store.dispose()
        filters.categories = []
        assert store.loaded == 2  # a disposed store no longer follows the filters

    def test_interval_switch(self, client: ApiClient):
        store = OverviewStore(client, Filters(today=TODAY, preset="last_90_days"))
        store.interval = "week"
        assert all(d.weekday() == 0 for d in store.timeseries["period_start"])
        store.interval = "month"
        assert list(store.timeseries["period_start"].dt.day.unique()) == [1]
        store.dispose()

    def test_nothing_matches_is_an_empty_state(self, client: ApiClient):
        store = OverviewStore(client, Filters(today=TODAY, min_amount=999999))
        store.param.trigger("refresh")
        assert store.is_empty
        assert store.categories.empty and store.merchants.empty
        store.dispose()

    def test_a_revoked_token_becomes_a_401_error_not_an_exception(self, api_url: str):
        with ApiClient(api_url, token="not-a-token") as bad:
            store = OverviewStore(bad, Filters(today=TODAY))
            store.param.trigger("refresh")
            assert isinstance(store.error, ApiError) and store.error.status == 401
            assert not store.loading and store.summary is None
            store.dispose()


class TestTransactionsStore:
    def test_pages_follow_the_api(self, client: ApiClient):
        filters = Filters(today=TODAY)
        store = TransactionsStore(client, filters)
        store.param.trigger("refresh")
        first_page = list(store.items["id"])
        store.page = 2
        expected = client.list_transactions(filters.query_params(), skip=20, limit=20)
        assert list(store.items["id"]) == [t["id"] for t in expected["items"]]
        assert store.total == expected["total"] and store.page_count == -(-store.total // 20)
        assert set(first_page).isdisjoint(store.items["id"])
        store.dispose()

    def test_search_and_filters_go_back_to_page_one(self, client: ApiClient):
        filters = Filters(today=TODAY)
        store = TransactionsStore(client, filters)
        store.page = 3
        store.q = "hotel"
        assert store.page == 1
        assert store.query_params()["q"] == "hotel"
        assert store.total == client.list_transactions(store.query_params())["total"]
        store.page = 2
        filters.categories = ["Travel"]
        assert store.page == 1 and set(store.items["category"]) == {"Travel"}
        store.dispose()

    def test_sort_by_amount(self, client: ApiClient):
        store = TransactionsStore(client, Filters(today=TODAY))
        store.sort = "-amount"
        amounts = store.items["amount"].astype(float).tolist()
        assert amounts == sorted(amounts, reverse=True)
        store.dispose()


class TestCatalogStore:
    def test_categories_and_merchants_for_the_pickers(self, client: ApiClient):
        catalog = CatalogStore(client)
        catalog.param.trigger("refresh")
        assert catalog.categories == sorted(catalog.categories) and "Travel" in catalog.categories
        assert len(catalog.merchant_names) == 60
        assert catalog.merchant_categories["FreshMart"] == "Groceries"


class TestSession:
    def test_login_logout_and_roles(self, api_url: str):
        with ApiClient(api_url) as client:
            session = Session(client)
            session.login(VIEWER, DEMO_PASSWORD)
            assert session.logged_in and session.role == "viewer" and not session.can_write
            assert session.organization_name == "Acme Retail" and session.currency == "USD"
            session.logout()
            assert not session.logged_in and client.token is None

    def test_expire_returns_with_a_notice(self, api_url: str):
        with ApiClient(api_url) as client:
            session = Session(client)
            session.login(ANALYST, DEMO_PASSWORD)
            assert session.can_write
            session.expire()
            assert session.token is None and "expired" in session.notice


class TestLoginMessages:
    def test_lockout_says_when_to_retry(self):
        error = ApiError(429, "TooManyRequests", "locked", retry_after=840)
        assert "Try again in 14 minutes" in login_failure_message(error)

    def test_retry_sentence_has_a_clock_time(self):
        now = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
        assert retry_sentence(30, now) == "Try again in 30 seconds (after 12:00 UTC)."
        assert retry_sentence(600, now) == "Try again in 10 minutes (after 12:10 UTC)."

    def test_unreachable_and_wrong_password(self):
        assert "cannot be reached" in login_failure_message(ApiUnreachable("http://x", "boom"))
        assert login_failure_message(ApiError(401, "Unauthorized")) == (
            "Incorrect email or password."
        )


def app_for(api_url: str) -> App:
    return App(DashboardSettings(api_url=api_url, dashboard_today=TODAY))


def log_in(app: App, email: str, password: str = DEMO_PASSWORD) -> None:
    app.login_page.email.value = email
    app.login_page.password.value = password
    app.login_page.submit.clicks += 1


class TestApp:
    def test_login_builds_the_workspace_and_logout_removes_it(self, api_url: str):
        app = app_for(api_url)
        assert app.shown is app.login_page
        log_in(app, ANALYST)
        assert app.session.logged_in and app.workspace is not None
        overview = app.workspace.page("overview")
        assert app.shown is overview
        assert overview.kpis.cards["total_spend"].object.count("$") >= 1
        assert app.workspace.page("transactions").editor is not None  # analyst writes
        app.navigation.value = "transactions"
        assert app.shown is app.workspace.page("transactions")
        app.session.logout()
        assert app.workspace is None and app.shown is app.login_page
        app.close()

    def test_kpis_show_the_api_figures(self, api_url: str, client: ApiClient):
        app = app_for(api_url)
        log_in(app, ANALYST)
        summary = client.metrics(app.filters.query_params())
        card = app.workspace.page("overview").kpis.cards["total_spend"].object
        assert format_money(summary["total_spend"], "USD") in card
        assert format_change(summary["change"]["total_spend"])[0] in card
        app.close()

    def test_a_write_fetches_the_open_analytics_pages_again(self, api_url: str):
        """After an import or an edit, the segments, movement and cohorts shown are fetched
        again (their figures depend on the transactions), not left as they were."""
        app = app_for(api_url)
        log_in(app, ANALYST)
        app.workspace.page("segments")
        app.workspace.page("cohorts")
        stores = app.workspace.analytics
        assert [type(s).__name__ for s in stores] == [
            "SegmentsStore",
            "SegmentMovementStore",
            "CohortsStore",
        ]
        before = [store.loaded for store in stores]
        app._data_written("Imported")
        assert [store.loaded for store in stores] == [n + 1 for n in before]
        app.close()

    def test_viewer_gets_no_editor(self, api_url: str):
        app = app_for(api_url)
        log_in(app, VIEWER)
        page = app.workspace.page("transactions")
        assert page.editor is None and page.table.selectable is False
        app.close()

    def test_wrong_password_shows_the_message(self, api_url: str, create_user):
        user = create_user()
        app = app_for(api_url)
        log_in(app, user.email, "wrong-password")
        assert not app.session.logged_in
        assert app.login_page.message.visible
        assert app.login_page.message.object == "Incorrect email or password."
        app.close()

    def test_unreachable_api_shows_the_message(self):
        app = app_for("http://127.0.0.1:9")
        log_in(app, ANALYST)
        assert "cannot be reached" in app.login_page.message.object
        app.close()

    def test_a_401_from_a_store_returns_to_login_with_a_notice(
        self, api_url: str, admin_client: ApiClient, create_user
    ):
        user = create_user("analyst")
        app = app_for(api_url)
        log_in(app, user.email, user.password)
        assert app.session.logged_in
        admin_client.update_user(user.id, role="viewer")  # revokes the token
        app.filters.preset = "last_90_days"
        assert not app.session.logged_in and app.workspace is None
        assert app.shown is app.login_page
        assert "expired" in app.login_page.notice.object and app.login_page.notice.visible
        app.close()


class TestFilterBar:
    def test_widgets_and_filters_follow_each_other(self, client: ApiClient):
        catalog = CatalogStore(client)
        catalog.fetch()
        filters = Filters(today=TODAY)
        bar = FilterBar(filters, catalog)
        assert "Travel" in bar.categories.options and "FreshMart" in bar.merchants.options

        bar.preset.value = "last_90_days"
        assert filters.preset == "last_90_days"
        assert bar.date_range.value == (date(2026, 4, 2), TODAY)

        bar.date_range.value = (date(2026, 3, 1), date(2026, 3, 31))
        assert filters.preset == "custom" and bar.preset.value == "custom"
        assert filters.query_params()["start_date"] == "2026-03-01"

        bar.categories.value = ["Travel"]
        bar.merchants.value = ["Grand Stay Hotels"]
        bar.min_amount.value = 20
        assert filters.query_params() == {
            "start_date": "2026-03-01",
            "end_date": "2026-03-31",
            "category": ["Travel"],
            "merchant": ["Grand Stay Hotels"],
            "min_amount": "20.00",
        }

        bar.reset.clicks += 1
        assert filters.preset == "last_30_days" and bar.categories.value == []
        assert bar.min_amount.value is None and bar.preset.value == "last_30_days"


class TestApiPagedTabulator:
    def test_pager_counts_pages_of_the_whole_result(self):
        table = ApiPagedTabulator(None, page_size=20)
        frame = pd.DataFrame({"id": range(20)})
        table.show_page(frame, total=95, page=3)
        assert table.page == 3 and table.param.page.bounds == (1, 5)
        assert table._length == 95
        assert len(table._processed) == 20  # only the fetched page is held


class TestDownloadLinks:
    def test_keys_belong_to_a_logged_in_session(self, api_url: str):
        keys = DownloadKeys()
        client = logged_in_client(api_url, ANALYST)
        session = Session(client, token=client.token, user=client.me())
        key = keys.issue(session)
        assert keys.session_for(key) is session
        session.logout()
        assert keys.session_for(key) is None  # no token, no download
        keys.revoke(key)
        assert len(keys) == 0
        client.close()

    def test_a_key_expires_after_its_lifetime(self, api_url: str):
        now = [1000.0]
        keys = DownloadKeys(lifetime_seconds=900, clock=lambda: now[0])
        client = logged_in_client(api_url, ANALYST)
        session = Session(client, token=client.token, user=client.me())
        key = keys.issue(session, browser="browser-1")
        now[0] += 899
        assert keys.download_for(key, "browser-1") is session
        assert keys.download_for(key, "browser-2") is None  # another browser, never
        now[0] += 1
        assert keys.download_for(key, "browser-1") is None
        assert keys.session_for(key) is None
        keys.issue(session, browser="browser-1")  # issuing forgets the expired keys
        assert key not in keys and len(keys) == 1
        client.close()

    def test_the_page_links_move_to_a_fresh_key_and_logout_kills_them_all(self, api_url: str):
        app = app_for(api_url)
        log_in(app, ANALYST)
        workspace = app.workspace
        page = workspace.page("transactions")
        first = workspace.download_key
        assert f"export/{first}/" in page.download.object
        workspace.rotate_download_key()
        second = workspace.download_key
        assert second != first and f"export/{second}/" in page.download.object
        # A download started from the old link a moment ago still has its session.
        assert DOWNLOAD_KEYS.session_for(first) is app.session
        app.session.logout()
        assert first not in DOWNLOAD_KEYS and second not in DOWNLOAD_KEYS
        app.close()

    def test_href_carries_the_filters_not_the_token(self):
        href = export_href(
            "k" * 43, {"start_date": "2026-06-01", "category": ["A & B", "C"], "q": ""}
        )
        assert href == (
            f"export/{'k' * 43}/transactions.csv?start_date=2026-06-01&category=A+%26+B&category=C"
        )

    def test_each_export_link_carries_only_its_own_filters(self):
        key = "k" * 43
        params = {"start_date": "2026-06-01", "country": "DE", "q": "anna"}
        assert export_href(key, params, "customers.csv") == (
            f"export/{key}/customers.csv?country=DE&q=anna"
        )
        assert export_href(key, params, "organization.json") == f"export/{key}/organization.json"
