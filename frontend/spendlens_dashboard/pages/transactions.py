"""The transactions page: the filtered transactions page by page, a search box, the CSV download,
and (for analysts and admins only) a small form to add, edit and delete a transaction."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation

import panel as pn

from spendlens_dashboard.api import ApiClient, ApiError
from spendlens_dashboard.components.loading import DelayedLoading
from spendlens_dashboard.components.table import ApiPagedTabulator, fitted
from spendlens_dashboard.export import export_href
from spendlens_dashboard.formatting import format_count
from spendlens_dashboard.state import CatalogStore, TransactionsStore
from spendlens_dashboard.state.view import as_int, first, one_of

EMPTY_MESSAGE = "No transactions match these filters and search."
SORTABLE = {"occurred_at": "date", "amount": "amount"}
TITLES = {
    "id": "ID",
    "occurred_at": "When (UTC)",
    "customer_id": "Customer",
    "customer_name": "Name",
    "merchant": "Merchant",
    "category": "Category",
    "description": "Description",
    "quantity": "Qty",
    "kind": "Kind",
    "amount": "Amount",
    "currency": "Cur.",
}


def api_sort(sorters: list[dict]) -> str:
    """Tabulator's sorters → the API's sort parameter (only date and amount can be sorted)."""
    for sorter in sorters or []:
        field = SORTABLE.get(sorter.get("field", ""))
        if field:
            return field if sorter.get("dir") == "asc" else f"-{field}"
    return "-date"


class TransactionEditor(pn.viewable.Viewer):
    """Add a transaction, or edit / delete the one selected in the table."""

    def __init__(
        self,
        client: ApiClient,
        catalog: CatalogStore,
        default_day: Callable[[], datetime],
        on_change: Callable[[str], None],
        on_unauthorized: Callable[[], None] = lambda: None,
        **params,
    ) -> None:
        super().__init__(**params)
        self.on_unauthorized = on_unauthorized
        self.client = client
        self.catalog = catalog
        self.default_day = default_day
        self.on_change = on_change
        self.editing_id: int | None = None
        self.heading = pn.pane.Markdown("**New transaction**", margin=(0, 10))
        self.customer_id = pn.widgets.IntInput(
            label="Customer ID", value=None, start=1, width=130, placeholder="e.g. 42"
        )
        self.merchant = pn.widgets.Select(label="Merchant", options={"(none)": None}, width=210)
        self.occurred_at = pn.widgets.DatetimeInput(
            label="When (UTC)", value=default_day(), format="%Y-%m-%d %H:%M", width=170
        )
        self.amount = pn.widgets.TextInput(label="Amount", placeholder="12.34", width=110)
        self.kind = pn.widgets.Select(label="Kind", options=["purchase", "refund"], width=110)
        self.category = pn.widgets.Select(label="Category", options=[], width=170)
        self.description = pn.widgets.TextInput(
            label="Description", placeholder="What was bought", sizing_mode="stretch_width"
        )
        self.quantity = pn.widgets.IntInput(label="Qty", value=1, start=1, width=80)
        self.save = pn.widgets.Button(label="Add transaction", color="primary", width=170)
        self.new = pn.widgets.Button(label="New", color="light", width=90)
        self.delete = pn.widgets.Button(
            label="Delete", color="danger", variant="outline", width=170, visible=False
        )
        self.status = pn.pane.Alert("", alert_type="danger", visible=False)
        self._confirming_delete = False
        self.save.on_click(self._save)
        self.new.on_click(lambda _: self.clear())
        self.delete.on_click(self._delete)
        catalog.param.watch(self._catalog_changed, ["categories", "merchants"])
        self._catalog_changed()
        self._layout = pn.Card(
            self.heading,
            pn.FlexBox(
                self.customer_id,
                self.merchant,
                self.occurred_at,
                self.amount,
                self.kind,
                self.category,
                self.quantity,
            ),
            self.description,
            self.status,
            pn.Row(self.save, self.new, self.delete),
            title="Add or edit a transaction",
            collapsed=False,
            sizing_mode="stretch_width",
            css_classes=["transaction-editor"],
        )

    def _catalog_changed(self, *_events) -> None:
        self.merchant.options = {
            "(none)": None,
            **{m["name"]: m["id"] for m in self.catalog.merchants},
        }
        self.category.options = list(self.catalog.categories)
        if self.category.options and self.category.value not in self.category.options:
            self.category.value = self.category.options[0]

    def clear(self) -> None:
        self.editing_id = None
        self._confirming_delete = False
        self.heading.object = "**New transaction**"
        self.customer_id.value = None
        self.merchant.value = None
        self.occurred_at.value = self.default_day()
        self.amount.value = ""
        self.kind.value = "purchase"
        self.description.value = ""
        self.quantity.value = 1
        self.save.label = "Add transaction"
        self.delete.param.update(visible=False, label="Delete")
        self.status.visible = False

    def edit(self, transaction_id: int) -> None:
        try:
            t = self.client.get_transaction(transaction_id)
        except ApiError as error:
            self._api_failed(error)
            return
        self.editing_id = t["id"]
        self._confirming_delete = False
        self.heading.object = f"**Transaction {t['id']}**"
        self.customer_id.value = t["customer_id"]
        self.merchant.value = t["merchant_id"]
        self.occurred_at.value = (
            datetime.fromisoformat(t["occurred_at"].replace("Z", "+00:00"))
            .astimezone(UTC)
            .replace(tzinfo=None)
        )
        self.amount.value = t["amount"]
        self.kind.value = t["kind"]
        if t["category"] not in self.category.options:
            self.category.options = [*self.category.options, t["category"]]
        self.category.value = t["category"]
        self.description.value = t["description"]
        self.quantity.value = t["quantity"]
        self.save.label = "Save changes"
        self.delete.param.update(visible=True, label="Delete")
        self.status.visible = False

    def _api_failed(self, error: ApiError) -> None:
        if error.status == 401:
            self.on_unauthorized()
        else:
            self._fail(error.message)

    def _fail(self, message: str) -> None:
        self.status.param.update(object=html.escape(message), alert_type="danger", visible=True)

    def body(self) -> dict | None:
        """The form as a POST/PATCH body, or None (with a message) when it cannot be sent."""
        if not self.customer_id.value:
            self._fail("Enter the customer ID.")
            return None
        try:
            amount = Decimal((self.amount.value_input or self.amount.value or "").strip())
        except InvalidOperation:
            self._fail("Enter the amount as a number, e.g. 12.34 (refunds are negative).")
            return None
        if not self.category.value:
            self._fail("Choose a category.")
            return None
        when = self.occurred_at.value or self.default_day()
        return {
            "customer_id": int(self.customer_id.value),
            "merchant_id": self.merchant.value,
            "occurred_at": when.replace(tzinfo=UTC).isoformat(),
            "amount": f"{amount.quantize(Decimal('0.01'))}",
            "kind": self.kind.value,
            "category": self.category.value,
            "description": self.description.value_input or self.description.value or "",
            "quantity": int(self.quantity.value or 1),
        }

    def _save(self, _event=None) -> None:
        body = self.body()
        if body is None:
            return
        self.save.loading = True
        try:
            if self.editing_id is None:
                saved = self.client.create_transaction(body)
                message = f"Transaction {saved['id']} added."
            else:
                saved = self.client.update_transaction(self.editing_id, body)
                message = f"Transaction {saved['id']} saved."
        except ApiError as error:
            self._api_failed(error)
            return
        finally:
            self.save.loading = False
        self.clear()
        self.on_change(message)

    def _delete(self, _event=None) -> None:
        if self.editing_id is None:
            return
        if not self._confirming_delete:
            self._confirming_delete = True
            self.delete.label = f"Confirm delete #{self.editing_id}"
            return
        try:
            self.client.delete_transaction(self.editing_id)
        except ApiError as error:
            self._api_failed(error)
            return
        message = f"Transaction {self.editing_id} deleted."
        self.clear()
        self.on_change(message)

    def __panel__(self):
        return self._layout


class TransactionsPage(pn.viewable.Viewer):
    title = "Transactions"

    def __init__(
        self,
        store: TransactionsStore,
        download_key: Callable[[], str | None],
        editor: TransactionEditor | None = None,
        **params,
    ) -> None:
        super().__init__(**params)
        self.store = store
        self.download_key = download_key
        self.editor = editor
        self.search = pn.widgets.TextInput(
            label="Search",
            placeholder="Description, category or merchant — press Enter",
            value=store.q,
            sizing_mode="stretch_width",
        )
        self.search.param.watch(lambda e: setattr(store, "q", e.new or ""), "value")
        self.count = pn.pane.Markdown("", margin=(0, 10), css_classes=["transactions-count"])
        self.download = pn.pane.HTML("", margin=(0, 10), css_classes=["csv-download"])
        self.empty = pn.pane.Alert(
            EMPTY_MESSAGE, alert_type="info", visible=False, sizing_mode="stretch_width"
        )
        self.table = ApiPagedTabulator(
            None,
            page_size=store.page_size,
            show_index=False,
            disabled=True,
            selectable=1 if editor is not None else False,
            sortable={column: column in SORTABLE for column in TITLES},
            titles=TITLES,
            # Ids are names, not quantities: no thousands separators.
            formatters={"id": {"type": "plaintext"}, "customer_id": {"type": "plaintext"}},
            css_classes=["transactions-table"],
            # The description takes what is left (and ellipsises); the rest always fits.
            **fitted(
                {
                    "id": 72,
                    "occurred_at": 132,
                    "customer_id": 82,
                    "customer_name": 135,
                    "merchant": 140,
                    "category": 118,
                    "quantity": 48,
                    "kind": 78,
                    "amount": 100,
                    "currency": 50,
                },
                money=("amount",),
                text_align={"quantity": "right"},
            ),
        )
        self.table.param.watch(self._page_chosen, "page")
        self.table.param.watch(self._sorted, "sorters")
        if editor is not None:
            self.table.param.watch(self._selected, "selection")
        store.param.watch(DelayedLoading(self.table), "loading")
        store.param.watch(self._data_changed, "loaded")
        self._layout = pn.Column(
            pn.Row(self.search, sizing_mode="stretch_width"),
            pn.Row(self.count, pn.HSpacer(), self.download, sizing_mode="stretch_width"),
            self.empty,
            self.table,
            *([editor] if editor is not None else []),
            sizing_mode="stretch_width",
        )
        if store.items is not None:
            self._draw_now()

    def _page_chosen(self, event) -> None:
        if event.new != self.store.page:
            self.store.page = event.new

    # -- the view in the address bar (see state/view.py) --------------------------------------

    def view_params(self) -> list:
        return [(self.store, ["q", "sort", "page"])]

    def view_options(self) -> list[tuple[str, str]]:
        store, options = self.store, []
        if store.q.strip():
            options.append(("q", store.q.strip()))
        if store.sort != "-date":
            options.append(("sort", store.sort))
        if store.page != 1:
            options.append(("p", str(store.page)))
        return options

    def restore_view(self, query) -> None:
        store = self.store
        self.search.value = (first(query, "q") or "")[:200]
        sort = one_of(first(query, "sort"), store.param.sort.objects, "-date")
        if sort != store.sort:
            store.sort = sort
            field = {v: k for k, v in SORTABLE.items()}[sort.lstrip("-")]
            direction = "desc" if sort.startswith("-") else "asc"
            self.table.sorters = [] if sort == "-date" else [{"field": field, "dir": direction}]
        page = as_int(first(query, "p")) or 1
        if page != store.page:
            store.page = page

    def _sorted(self, event) -> None:
        self.store.sort = api_sort(event.new)

    def _selected(self, event) -> None:
        if not event.new or self.table.value is None or self.editor is None:
            return
        row = self.table.value.iloc[event.new[0]]
        self.editor.edit(int(row["id"]))

    def refresh_download(self) -> None:
        key = self.download_key()
        if not key:
            self.download.object = ""
            return
        href = export_href(key, {**self.store.query_params(), "sort": self.store.sort})
        self.download.object = (
            '<a class="csv-download-link btn btn-outline-primary btn-sm" '
            f'href="{html.escape(href)}"'
            ' download="transactions.csv">↓ Download CSV</a>'
        )

    def _data_changed(self, *_events) -> None:
        # Stores finish on worker threads; the table changes under the document lock.
        pn.state.execute(self._draw)

    def _draw(self) -> None:
        with pn.io.hold():
            self._draw_now()

    def _draw_now(self) -> None:
        store = self.store
        total = store.total
        self.count.object = (
            f"**{format_count(total)}** transactions (purchases and refunds) · "
            f"page {store.page} of {store.page_count}"
        )
        self.empty.visible = total == 0
        self.table.show_page(store.items, total, store.page)
        self.refresh_download()

    def __panel__(self):
        return self._layout


def noon_of(day) -> datetime:
    """Default time of a new transaction: noon UTC of the dashboard's today."""
    return datetime.combine(day, time(12, 0))
