"""The App: one per browser session, composing the template, the session state and the pages.

`create_app()` is what the server calls for every new browser session, so each session has its
own ApiClient, token and stores, and one analyst's token never reaches another's page.
"""

from __future__ import annotations

import html
import threading
import time

import panel as pn

from spendlens_dashboard.api import ApiClient
from spendlens_dashboard.components.address_bar import AddressBar
from spendlens_dashboard.charts import category_colors
from spendlens_dashboard.components.breadcrumb import FilterBreadcrumb
from spendlens_dashboard.components.filter_bar import FilterBar
from spendlens_dashboard.components.header import UserHeader
from spendlens_dashboard.components.theme import ThemeSwitch, apply_chart_theme
from spendlens_dashboard.config import DashboardSettings, get_settings
from spendlens_dashboard.export import DOWNLOAD_KEYS, ROTATE_SECONDS, session_browser_id
from spendlens_dashboard.pages import NAVIGATION, PAGES
from spendlens_dashboard.components.jobs_panel import JobsPanel
from spendlens_dashboard.pages.clv import FitForm
from spendlens_dashboard.pages.data import ImportPanel, imported_message
from spendlens_dashboard.pages.journey import CustomerJourney
from spendlens_dashboard.pages.transactions import TransactionEditor, noon_of
from spendlens_dashboard.security import BROWSER_COOKIE
from spendlens_dashboard.sessions import DASHBOARD_SESSIONS, page_cookie, page_session_token
from spendlens_dashboard.state import (
    CatalogStore,
    Filters,
    OverviewStore,
    Session,
    TransactionsStore,
)
from spendlens_dashboard.state.analytics import CohortsStore, SegmentMovementStore, SegmentsStore
from spendlens_dashboard.state.customers import CustomerDetailStore, CustomersStore
from spendlens_dashboard.state.clv import ClvFitStore, ClvStore
from spendlens_dashboard.state.errors import ApiErrors
from spendlens_dashboard.state.imports import ImportStore
from spendlens_dashboard.state.jobs import RecentJobsStore
from spendlens_dashboard.state.journey import (
    CustomerEventsStore,
    CustomerStagesStore,
    JourneyStore,
)
from spendlens_dashboard.state.session import EXPIRED_MESSAGE
from spendlens_dashboard.state.view import (
    PAGE_KEY,
    Query,
    first,
    one_of,
    parse_search,
    restore_filters,
    view_search,
)

pn.extension("tabulator", design="bootstrap", notifications=True, inline=False)

PRODUCT_NAME = "Spendlens"
UNFILTERED_PAGES = ("customers", "segments", "cohorts", "clv", "data")
INTERVALS = ("day", "week", "month")
APP_CSS = """
.login-card { border: 1px solid var(--panel-border-color, #ddd); border-radius: 10px;
              padding: 10px 20px 20px; }
"""


def finished_notice(label: str, state: str) -> tuple[str, str]:
    """The toast at the end of a job a form started: ('success', 'Fit #3 finished.')."""
    if state == "succeeded":
        return "success", f"{label} finished."
    return "error", f"{label} {state}."


class Workspace:
    """Everything that exists only while someone is logged in; thrown away at logout."""

    def __init__(self, app: "App", query: Query) -> None:
        session, client, filters = app.session, app.session.client, app.filters
        self.app = app
        self.query = query  # the view the address asked for, read by pages built later
        # Download keys are short-lived: the links on screen move to a fresh key every few
        # minutes (export.py); every key this login issued dies with it.
        self.browser = session_browser_id()
        self.download_key: str | None = DOWNLOAD_KEYS.issue(session, self.browser)
        self._download_keys = [self.download_key]
        self._rotation = None
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            self._rotation = pn.state.add_periodic_callback(
                self.rotate_download_key, period=ROTATE_SECONDS * 1000
            )
        self.catalog = CatalogStore(client)
        self.overview = OverviewStore(
            client, filters, interval=one_of(first(query, "interval"), INTERVALS, "day")
        )
        self.transactions = TransactionsStore(client, filters)
        for store in (self.catalog, self.overview, self.transactions):
            app.errors.watch(store)

        # The first overview is fetched before its page is built, so the browser lays the page
        # out once, with its data; the catalog (colours, pickers) is fetched alongside.
        catalog = threading.Thread(target=self.catalog.fetch, name="spendlens-catalog")
        catalog.start()
        self.overview.fetch()
        catalog.join()

        self.colors = category_colors(self.catalog.categories)
        overview_page = PAGES["overview"](
            self.overview,
            self.colors,
            currency=session.currency,
            merchant_categories=self.catalog.merchant_categories,
        )
        overview_page.set_theme(app.theme_switch.dark)
        self.pages: dict[str, pn.viewable.Viewer] = {"overview": overview_page}
        self.filter_bar = FilterBar(filters, self.catalog)
        self.breadcrumb = FilterBreadcrumb(filters, lambda: session.currency)
        # Built on first open of their pages (nothing is fetched for them at login).
        self.customers: CustomersStore | None = None
        self.customer_detail: CustomerDetailStore | None = None
        self.importer: ImportPanel | None = None
        self.clv: ClvStore | None = None
        # Stores of the analytics pages opened so far, fetched again after a write.
        self.analytics: list = []
        self.fit_form: FitForm | None = None
        self.jobs: RecentJobsStore | None = None

    def page(self, slug: str) -> pn.viewable.Viewer:
        """The page called `slug`, built the first time it is shown."""
        if slug not in self.pages:
            builders = {
                "transactions": self._transactions_page,
                "customers": self._customers_page,
                "segments": self._segments_page,
                "cohorts": self._cohorts_page,
                "clv": self._clv_page,
                "data": self._data_page,
                "journey": self._journey_page,
            }
            self.pages[slug] = builders[slug]()
            self.app._watch_view_of(self.pages[slug])
            if self.app.theme_switch.dark:
                apply_chart_theme(self.pages[slug], dark=True)
        return self.pages[slug]

    def _customers_page(self) -> pn.viewable.Viewer:
        app, session = self.app, self.app.session
        self.customers = CustomersStore(session.client, currency=session.currency)
        self.customer_detail = CustomerDetailStore(session.client)
        stages, events = CustomerStagesStore(session.client), CustomerEventsStore(session.client)
        for store in (self.customers, self.customer_detail, stages, events):
            app.errors.watch(store)
        page = PAGES["customers"](
            self.customers,
            self.customer_detail,
            currency=session.currency,
            today=app.filters.reference_day,
            journey=CustomerJourney(stages, events),
        )
        page.restore_view(self.query)
        self.customers.load()
        return page

    def _segments_page(self) -> pn.viewable.Viewer:
        app, session = self.app, self.app.session
        segments, movement = SegmentsStore(session.client), SegmentMovementStore(session.client)
        for store in (segments, movement):
            app.errors.watch(store)
        page = PAGES["segments"](segments, movement, currency=session.currency)
        self.analytics += [segments, movement]
        page.restore_view(self.query)
        segments.load()
        return page

    def _cohorts_page(self) -> pn.viewable.Viewer:
        app, session = self.app, self.app.session
        # The dashboard's pinned today (demo, tests) is the last day the cohorts observe.
        cohorts = CohortsStore(session.client, as_of=app.filters.today)
        app.errors.watch(cohorts)
        page = PAGES["cohorts"](cohorts, currency=session.currency)
        self.analytics.append(cohorts)
        page.restore_view(self.query)
        cohorts.load()
        return page

    def _journey_page(self) -> pn.viewable.Viewer:
        app, session = self.app, self.app.session
        # Stages "now": at the end of the pinned today (demo, tests), else the API's now.
        pinned = app.settings.dashboard_today
        journey = JourneyStore(session.client, app.filters, as_of=pinned)
        app.errors.watch(journey)
        page = PAGES["journey"](journey)
        self.analytics.append(journey)
        journey.load()
        return page

    def _clv_page(self) -> pn.viewable.Viewer:
        app, session = self.app, self.app.session
        self.clv = ClvStore(
            session.client, currency=session.currency, with_data_range=session.can_write
        )
        app.errors.watch(self.clv)
        if session.can_write:
            fits = ClvFitStore(session.client)
            self._watch_action(fits)
            fits.job.param.watch(self._fit_finished, "finished")
            self.fit_form = FitForm(fits)
        page = PAGES["clv"](self.clv, currency=session.currency, form=self.fit_form)
        self.clv.load()
        return page

    def _fit_finished(self, event) -> None:
        job = self.fit_form.store.job
        if not event.new:
            return
        self.app.notify(*finished_notice(job.label, job.state))
        self.clv.load()

    def _data_page(self) -> pn.viewable.Viewer:
        app, session = self.app, self.app.session
        self.jobs = RecentJobsStore(session.client)
        app.errors.watch(self.jobs, what=None)  # the jobs panel says why itself
        app.errors.watch(self.jobs, what=None, name="retry_error")
        if session.can_write:
            imports = ImportStore(session.client)
            self._watch_action(imports)
            self.jobs.param.watch(lambda e: imports.follow(e.new) if e.new else None, "retried")
            self.importer = ImportPanel(imports)
            # After the panel's own watchers, as before: the result is drawn, then the list
            # of jobs is fetched again.
            imports.job.param.watch(self._import_changed, ["job_id", "finished"])
        page = PAGES["data"](
            download_key=lambda: self.download_key,
            importer=self.importer,
            can_export_organization=session.can_write,
            jobs=JobsPanel(self.jobs, can_retry=session.can_write),
        )
        self.jobs.load()
        return page

    def _import_changed(self, *events) -> None:
        job = self.importer.store.job
        self.jobs.load()  # the new (or retried) job, then its end, in the recent jobs
        if not any(e.name == "finished" and e.new for e in events):
            return
        if job.state == "succeeded":
            self.app._data_written(imported_message(job.result))
        else:
            self.app.notify(*finished_notice(job.label, job.state))

    def _watch_action(self, store) -> None:
        """A form's store and its job: a 401 ends the session; the form says other refusals."""
        self.app.errors.watch(store, what=None, name="api_error")
        self.app.errors.watch(store.job, what=None, name="api_error")

    def _transactions_page(self) -> pn.viewable.Viewer:
        app, session = self.app, self.app.session
        editor = None
        if session.can_write:
            editor = TransactionEditor(
                session.client,
                self.catalog,
                default_day=lambda: noon_of(app.filters.reference_day()),
                on_change=app._data_written,
                on_unauthorized=app.errors.unauthorized,
            )
        page = PAGES["transactions"](
            self.transactions, download_key=lambda: self.download_key, editor=editor
        )
        page.restore_view(self.query)
        if self.transactions.items is None:
            self.transactions.load()
        return page

    def reload(self) -> None:
        """Fetch again everything shown (after a write, for instance)."""
        self.overview.load()
        if "transactions" in self.pages:
            self.transactions.load()
        if self.customers is not None:
            self.customers.load()
        for store in self.analytics:
            store.load()

    def rotate_download_key(self) -> None:
        """A fresh key for the download links; the previous one still works until it expires,
        so a download started a moment ago is not cut."""
        if self.download_key is None:
            return
        self.download_key = DOWNLOAD_KEYS.issue(self.app.session, self.browser)
        self._download_keys.append(self.download_key)
        for page in self.pages.values():
            for refresh in ("refresh_download", "refresh_downloads"):
                if hasattr(page, refresh):
                    getattr(page, refresh)()

    def dispose(self) -> None:
        if self._rotation is not None:
            self._rotation.stop()
            self._rotation = None
        for key in self._download_keys:
            DOWNLOAD_KEYS.revoke(key)
        self._download_keys = []
        self.download_key = None
        for store in (self.overview, self.transactions):
            store.dispose()
        self.breadcrumb.dispose()
        for store in self.analytics:
            if hasattr(store, "dispose"):  # the ones following the shared filters
                store.dispose()
        if self.importer is not None:
            self.importer.dispose()
        if self.fit_form is not None:
            self.fit_form.dispose()


class App(pn.viewable.Viewer):
    """The template with the login page, or the header, filters and pages of a logged-in user."""

    def __init__(
        self,
        settings: DashboardSettings | None = None,
        client: ApiClient | None = None,
        **params,
    ) -> None:
        super().__init__(**params)
        self.settings = settings or get_settings()
        client = client or ApiClient(
            self.settings.api_url, timeout=self.settings.api_timeout_seconds
        )
        self.session = Session(client)
        self.errors = ApiErrors(self.session, self.notify)
        self.filters = Filters(today=self.settings.dashboard_today)
        self.workspace: Workspace | None = None
        self.shown: pn.viewable.Viewer | None = None  # the page in the main area
        self._last_notice: tuple[str, str, float] = ("", "", 0.0)
        # The address bar: the view asked for when the page opened (applied once logged in),
        # the query string last written, and whether a view is being restored from it.
        location = pn.state.location
        self._wanted_view = parse_search(location.search if location is not None else "")
        self._shown_search = ""
        self._restoring = False
        self._resuming = False
        self.address = AddressBar()
        self.address.param.watch(self._address_popped, "popped")
        # Logging in from this page gives the browser its session cookie (sessions.py).
        self.session_cookie = pn.pane.HTML(
            "", width=0, height=0, margin=0, css_classes=["session-cookie"]
        )

        self.login_page = PAGES["login"](self.session)
        self.header = UserHeader(self.session)
        self.theme_switch = ThemeSwitch(on_change=self._theme_changed)
        self.navigation = pn.widgets.RadioButtonGroup(
            label="Page",
            options={PAGES[slug].title: slug for slug in NAVIGATION},
            value=NAVIGATION[0],
            color="primary",
            variant="outline",
            # One page per line: the list grows with the product without squeezing labels.
            orientation="vertical",
            sizing_mode="stretch_width",
            stylesheets=[":host .bk-btn { text-align: left; }"],
        )
        self.navigation.param.watch(lambda _: self._show_page(), "value")
        self.sidebar = pn.Column(sizing_mode="stretch_width")
        self.main = pn.Column(sizing_mode="stretch_width")
        self.template = pn.template.BootstrapTemplate(
            title=PRODUCT_NAME,
            sidebar_width=330,
            header=[
                pn.Row(
                    self.header,
                    self.theme_switch,
                    self.address,
                    self.session_cookie,
                    sizing_mode="stretch_width",
                )
            ],
            sidebar=[self.sidebar],
            main=[self.main],
            raw_css=[APP_CSS],
        )
        self.navigation.param.watch(self._view_changed, "value")
        self.filters.param.watch(self._view_changed, list(Filters.QUERY_FIELDS))
        self.session.param.watch(self._token_changed, "token")
        self._show_login()
        self._resume()

    def _resume(self) -> None:
        """A page opened by a browser still logged in (reload, bookmark, link) carries on."""
        token = page_session_token()
        if token is None:
            return
        self._resuming = True
        try:
            resumed = self.session.resume(token)
        finally:
            self._resuming = False
        if not resumed:
            DASHBOARD_SESSIONS.end(token)
            self.session.notice = EXPIRED_MESSAGE

    # -- what the page shows --------------------------------------------------------------------

    def _show_login(self) -> None:
        self.sidebar[:] = [
            pn.pane.Markdown(
                "### Spending analytics\nLog in to see your organisation's spending: headline "
                "figures, trends, categories, merchants and the transactions behind them."
            )
        ]
        self.shown = self.login_page
        self.main[:] = [self.login_page]

    def _show_page(self) -> None:
        if self.workspace is None:
            return
        slug = self.navigation.value
        self.shown = self.workspace.page(slug)
        # The shared filters (dates, categories, ...) apply to the overview and transactions.
        wanted = [self.navigation]
        if slug not in UNFILTERED_PAGES:
            wanted.append(self.workspace.filter_bar)
        if list(self.sidebar.objects) != wanted:
            self.sidebar[:] = wanted
        filtered = slug not in UNFILTERED_PAGES
        self.main[:] = [self.workspace.breadcrumb, self.shown] if filtered else [self.shown]

    def _token_changed(self, event) -> None:
        if self.workspace is not None:
            self.workspace.dispose()
            self.workspace = None
        if event.old is not None:
            DASHBOARD_SESSIONS.end(event.old)
        if event.new is None:
            self.session_cookie.object = ""
            if self.session.notice:
                # Expired or revoked: logging in again returns to the view in the address bar.
                self._wanted_view = parse_search(self._shown_search)
            else:
                self._wanted_view = {}
                self._shown_search = ""
                self.address.show("", push=True)
            self._show_login()
            return
        if not self._resuming:
            self._give_session_cookie(event.new)
        query, self._wanted_view = self._wanted_view, {}
        self._restoring = True
        try:
            restore_filters(self.filters, query)
            workspace = Workspace(self, query)
            if self.session.token != event.new:  # expired (401) or logged out while built
                workspace.dispose()
                return
            self.workspace = workspace
            self._watch_view_of(workspace.pages["overview"])
            self.navigation.value = one_of(first(query, PAGE_KEY), NAVIGATION, NAVIGATION[0])
            self.sidebar[:] = [self.navigation, workspace.filter_bar]
            self._show_page()
        finally:
            self._restoring = False
        self._record_view(push=False)

    def _give_session_cookie(self, token: str) -> None:
        """A hidden image whose answer sets this browser's session cookie (see sessions.py)."""
        ticket = DASHBOARD_SESSIONS.issue_ticket(
            token, page_cookie(BROWSER_COOKIE), self.session.lifetime or 3600
        )
        if ticket is not None:
            self.session_cookie.object = (
                f'<img src="session/{ticket}" alt="" width="1" height="1" '
                'style="position: absolute; opacity: 0">'
            )

    # -- the view in the address bar ----------------------------------------------------------

    def _watch_view_of(self, page) -> None:
        for owner, names in getattr(page, "view_params", lambda: [])():
            owner.param.watch(self._view_changed, names)

    def _view_changed(self, *_events) -> None:
        if not self._restoring:
            self._record_view(push=True)

    def _record_view(self, push: bool) -> None:
        """Write the view shown into the address bar (a new history entry when `push`)."""
        if self.workspace is None:
            return
        slug = self.navigation.value
        page = self.workspace.pages.get(slug)
        options = page.view_options() if hasattr(page, "view_options") else []
        search = view_search(slug, self.filters, options)
        if search != self._shown_search:
            self._shown_search = search
            self.address.show(search, push=push)

    def _address_popped(self, event) -> None:
        """Back or Forward: show the view of the address the browser went to."""
        search = AddressBar.popped_search(event.new)
        if self.workspace is None:
            self._wanted_view = parse_search(search)
            return
        self.show_view(search)

    def show_view(self, search: str) -> None:
        """Show the view a query string describes (what Back/Forward and links do)."""
        query = parse_search(search)
        self._shown_search = search
        self._restoring = True
        try:
            restore_filters(self.filters, query)
            slug = one_of(first(query, PAGE_KEY), NAVIGATION, NAVIGATION[0])
            self.workspace.query = query
            page = self.workspace.page(slug)
            if hasattr(page, "restore_view"):
                page.restore_view(query)
            self.navigation.value = slug
            self._show_page()
        finally:
            self._restoring = False
        self._record_view(push=False)

    # -- reactions to stores and forms --------------------------------------------------------

    def notify(self, kind: str, message: str) -> None:
        """A toast; the same message twice within a few seconds (two stores failing on one
        filter change, say) shows once."""
        now = time.monotonic()
        if (message, kind) == self._last_notice[:2] and now - self._last_notice[2] < 3:
            return
        self._last_notice = (message, kind, now)
        notifications = pn.state.notifications
        if notifications is not None:
            getattr(notifications, kind)(html.escape(message), duration=6000)  # toasts are HTML

    def _theme_changed(self, dark: bool) -> None:
        if self.workspace is not None:
            for page in self.workspace.pages.values():
                apply_chart_theme(page, dark)

    def _data_written(self, message: str) -> None:
        self.notify("success", message)
        if self.workspace is not None:
            self.workspace.reload()

    def close(self) -> None:
        """End of the browser session: forget the token and free the HTTP connections."""
        if self.workspace is not None:
            self.workspace.dispose()
            self.workspace = None
        self.session.client.logout()
        self.session.client.close()

    def __panel__(self):
        return self.template


def create_app(settings: DashboardSettings | None = None) -> pn.template.BaseTemplate:
    """Build the App for one browser session (the server calls this once per session)."""
    app = App(settings)
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.on_session_destroyed(lambda _ctx: app.close())
    return app.template
