"""The import form: the file, its kind, format, mode and encoding, and for a custom CSV a picker
per field offering the file's columns. It keeps only its inputs and hands them to the import
store ("Preview (dry run)" or "Run import")."""

from __future__ import annotations

import csv
import html
import json

import panel as pn
import param

from spendlens_dashboard.state.imports import ImportRequest, ImportStore

FORMATS = {
    "Spendlens CSV (native)": "native-csv",
    "JSON / JSON Lines": "json",
    "Online Retail (UCI)": "online-retail",
    "Custom CSV (map the columns)": "custom",
}
KINDS = {"Transactions": "transactions", "Customers": "customers", "Merchants": "merchants"}
MODES = {"All or nothing": "all-or-nothing", "Skip bad rows": "skip-bad-rows"}
ENCODINGS = {
    "UTF-8": "utf-8",
    "Windows-1252 (Excel, Western Europe)": "cp1252",
    "Latin-1 (ISO 8859-1)": "latin-1",
}
MAPPED_FIELDS = {
    "transactions": [
        ("customer", "Customer id"),
        ("customer_name", "Customer name"),
        ("date", "Date"),
        ("amount", "Amount"),
        ("quantity", "Quantity"),
        ("price", "Unit price"),
        ("category", "Category"),
        ("merchant", "Merchant"),
        ("description", "Description"),
        ("external_id", "Row key (external id)"),
        ("country", "Country"),
        ("currency", "Currency"),
        ("kind", "Kind"),
    ],
    "customers": [
        ("external_id", "External id"),
        ("name", "Name"),
        ("email", "Email"),
        ("country", "Country"),
        ("signup_date", "Signup date"),
        ("lifecycle_stage", "Lifecycle stage"),
    ],
}
NOT_MAPPED = "(not in the file)"


def header_columns(content: bytes | None) -> tuple[list[str], str]:
    """The columns of a CSV's header line and its delimiter (one of , ; tab |)."""
    if not content:
        return [], ","
    first = content.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").rstrip("\r")
    delimiter = max([",", ";", "\t", "|"], key=first.count)
    row = next(csv.reader([first], delimiter=delimiter), [])
    return [c.strip() for c in row if c.strip()], delimiter


def guess_column(field: str, columns: list[str]) -> str | None:
    """The file's column for a field when its name says so (case and spaces ignored)."""

    def norm(text: str) -> str:
        return "".join(ch for ch in text.lower() if ch.isalnum())

    wanted = {norm(field), norm(field.replace("_", " "))}
    for column in columns:
        if norm(column) in wanted:
            return column
    return None


def build_mapping(chosen: dict[str, str | None], extra: str, delimiter: str) -> dict:
    """The mapping sent with a custom CSV: the chosen columns, then the JSON typed (it wins)."""
    mapping: dict = {field: column for field, column in chosen.items() if column}
    if delimiter != ",":
        mapping["delimiter"] = delimiter
    if extra.strip():
        try:
            typed = json.loads(extra)
        except json.JSONDecodeError as error:
            raise ValueError(f"The extra mapping is not valid JSON: {error.msg}.") from None
        if not isinstance(typed, dict):
            raise ValueError("The extra mapping must be a JSON object.")
        mapping.update(typed)
    if not mapping:
        raise ValueError("Map the file's columns (at least the customer and the date).")
    return mapping


class ImportForm(pn.viewable.Viewer):
    """The inputs, the two buttons and the store's refusal."""

    def __init__(self, store: ImportStore, **params) -> None:
        super().__init__(**params)
        self.store = store
        self.file = pn.widgets.FileInput(
            accept=".csv,.json,.jsonl,.txt", multiple=False, css_classes=["import-file"]
        )
        self.kind = pn.widgets.Select(label="Kind", options=KINDS, width=160)
        self.format = pn.widgets.Select(label="Format", options=FORMATS, width=230)
        self.mode = pn.widgets.Select(label="Mode", options=MODES, width=160)
        self.encoding = pn.widgets.Select(label="Encoding", options=ENCODINGS, width=230)
        self.mapping_box, self.columns, self.mapping = self._mapping_widgets()
        self.column_pickers: dict[str, pn.widgets.Select] = {}
        self._delimiter = ","
        self.preview_button = pn.widgets.Button(
            label="Preview (dry run)", color="primary", variant="outline", width=170
        )
        self.run_button = pn.widgets.Button(label="Run import", color="primary", width=170)
        self.status = pn.pane.Alert(
            "", alert_type="danger", visible=False, sizing_mode="stretch_width"
        )
        for widget in (self.format, self.kind, self.file):
            widget.param.watch(lambda _: self._refresh_mapping(), "value")
        self.preview_button.on_click(lambda _: self._send(store.preview))
        self.run_button.on_click(lambda _: self._send(store.run))
        store.param.watch(self._busy, "busy")
        store.param.watch(self._refused, "message")
        self._layout = pn.Column(
            pn.pane.Markdown(
                "Choose a file, its kind and format, preview it (nothing is written), then run "
                "the import. Re-importing a file adds nothing twice."
            ),
            self.file,
            pn.FlexBox(self.kind, self.format, self.mode, self.encoding),
            self.mapping_box,
            pn.Row(self.preview_button, self.run_button),
            self.status,
            sizing_mode="stretch_width",
        )

    @staticmethod
    def _mapping_widgets() -> tuple[pn.Column, pn.FlexBox, pn.widgets.TextAreaInput]:
        columns = pn.FlexBox(css_classes=["import-mapping"])
        extra = pn.widgets.TextAreaInput(
            label="More mapping options (JSON, e.g. date_format, decimal_separator)",
            placeholder='{"date_format": "%d.%m.%Y", "decimal_separator": ","}',
            height=80,
            sizing_mode="stretch_width",
        )
        box = pn.Column(
            pn.pane.Markdown("**Map the file's columns**"),
            columns,
            extra,
            visible=False,
            sizing_mode="stretch_width",
        )
        return box, columns, extra

    def _refresh_mapping(self) -> None:
        """For a custom CSV: one picker per field, offering the columns of the file's header."""
        custom = self.format.value == "custom"
        self.mapping_box.visible = custom
        if not custom:
            return
        columns, self._delimiter = header_columns(self.file.value)
        options = {NOT_MAPPED: "", **{c: c for c in columns}}
        pickers = {}
        # Merchants come only in the native layouts (the API says so if a custom file is sent).
        for field, label in MAPPED_FIELDS.get(self.kind.value, []):
            pickers[field] = pn.widgets.Select(
                label=label,
                options=options,
                value=guess_column(field, columns) or "",
                width=170,
                css_classes=[f"map-{field}"],
            )
        self.column_pickers = pickers
        self.columns[:] = list(pickers.values())

    def _mapping(self) -> str | None:
        if self.format.value != "custom":
            return None
        chosen = {field: picker.value for field, picker in self.column_pickers.items()}
        extra = self.mapping.value_input or self.mapping.value or ""
        return json.dumps(build_mapping(chosen, extra, self._delimiter))

    def request(self) -> ImportRequest:
        """The inputs as one request; ValueError says what is missing or wrong."""
        if self.file.value is None:
            raise ValueError("Choose a file first.")
        return ImportRequest(
            filename=self.file.filename or "upload.csv",
            content=self.file.value,
            kind=self.kind.value,
            format=self.format.value,
            mode=self.mode.value,
            mapping=self._mapping(),
            encoding=self.encoding.value,
        )

    def _send(self, action) -> None:
        try:
            request = self.request()
        except ValueError as error:
            self.store.refuse(str(error))
            return
        action(request)

    def _busy(self, event: param.parameterized.Event) -> None:
        self.preview_button.disabled = self.run_button.disabled = event.new

    def _refused(self, event: param.parameterized.Event) -> None:
        self.status.param.update(object=html.escape(event.new), visible=bool(event.new))

    def __panel__(self):
        return self._layout
