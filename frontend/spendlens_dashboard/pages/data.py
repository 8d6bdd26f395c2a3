"""The data page: upload a file (format or column mapping), preview it with the server's
validation report, run the import with a live progress bar, and download exports.

Viewers only see the exports: uploading is for analysts and admins.
"""

from __future__ import annotations

import csv
import html
import json
from collections.abc import Callable

import pandas as pd
import panel as pn

from spendlens_dashboard.components.frame_table import FrameTabulator
from spendlens_dashboard.components.job_follower import JobFollower

from spendlens_dashboard.api import ApiClient, ApiError
from spendlens_dashboard.background import in_background
from spendlens_dashboard.export import export_href
from spendlens_dashboard.formatting import format_count

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
MAPPING_EXAMPLE = (
    '{"customer": "Client", "date": "Day", "date_format": "%d.%m.%Y", "amount": "Total",\n'
    ' "category": "Type", "merchant": "Shop", "external_id": "Ref", "delimiter": ";"}'
)
REPORT_COLUMNS = ["row", "column", "value", "reason"]
FINISHED = ("succeeded", "failed", "cancelled")
# Jobs a worker may run again: a failed one (unless it failed on its input, which the server
# says with a 409) or one left `running` by a worker that died.
RETRYABLE = ("failed", "running")
JOB_COLUMNS = {
    "id": "Job",
    "kind": "Kind",
    "state": "State",
    "file": "File",
    "progress": "Progress",
    "error_count": "Problems",
    "created_at": "Queued",
    "finished_at": "Finished",
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


def report_frame(problems: list[dict] | None) -> pd.DataFrame:
    frame = pd.DataFrame(problems or [], columns=REPORT_COLUMNS)
    return frame.fillna("").astype(str)


def preview_frame(rows: list[dict] | None) -> pd.DataFrame:
    records = []
    for row in rows or []:
        record = {"row": row.get("row")}
        record.update(
            {k: "" if v is None else str(v) for k, v in (row.get("values") or {}).items()}
        )
        problem = row.get("problem") or row.get("skipped")
        record["problem"] = (problem or {}).get("reason", "")
        records.append(record)
    return pd.DataFrame(records)


def summary_html(summary: dict, *, would_succeed: bool | None = None) -> str:
    names = [
        ("rows", "Rows"),
        ("valid", "Valid"),
        ("invalid", "With problems"),
        ("skipped", "Skipped"),
        ("new", "New"),
        ("already_present", "Already present"),
        ("customers_created", "Customers created"),
        ("merchants_created", "Merchants created"),
    ]
    cells = "".join(
        f'<li><span class="label">{label}:</span> '
        f'<b data-import-figure="{key}">{format_count(summary.get(key))}</b></li>'
        for key, label in names
        if key in summary
    )
    verdict = ""
    if would_succeed is not None:
        verdict = (
            '<p class="import-verdict ok">The import would succeed.</p>'
            if would_succeed
            else '<p class="import-verdict bad">As it is, the import would be refused: '
            "fix the rows in the report or choose “Skip bad rows”.</p>"
        )
    return f'<ul class="import-summary">{cells}</ul>{verdict}'


class ImportPanel(pn.viewable.Viewer):
    """Upload form, dry-run preview and report, and the import job's progress and result."""

    def __init__(
        self,
        client: ApiClient,
        on_imported: Callable[[str], None],
        on_unauthorized: Callable[[], None] = lambda: None,
        notify: Callable[[str, str], None] = lambda kind, message: None,
        on_job_changed: Callable[[], None] = lambda: None,
        **params,
    ) -> None:
        super().__init__(**params)
        self.client = client
        self.on_imported = on_imported
        self.on_job_changed = on_job_changed
        self.on_unauthorized = on_unauthorized
        self.notify = notify
        self.follower = JobFollower(client, on_job=self._show_job, on_error=self._upload_failed)
        self.file = pn.widgets.FileInput(
            accept=".csv,.json,.jsonl,.txt", multiple=False, css_classes=["import-file"]
        )
        self.kind = pn.widgets.Select(label="Kind", options=KINDS, width=160)
        self.format = pn.widgets.Select(label="Format", options=FORMATS, width=230)
        self.mode = pn.widgets.Select(label="Mode", options=MODES, width=160)
        self.encoding = pn.widgets.Select(label="Encoding", options=ENCODINGS, width=230)
        self.mapping = pn.widgets.TextAreaInput(
            label="Column mapping (JSON)",
            placeholder=MAPPING_EXAMPLE,
            height=80,
            sizing_mode="stretch_width",
        )
        self.mapping.label = "More mapping options (JSON, e.g. date_format, decimal_separator)"
        self.mapping.placeholder = '{"date_format": "%d.%m.%Y", "decimal_separator": ","}'
        self._delimiter = ","
        self.columns = pn.FlexBox(css_classes=["import-mapping"])
        self.column_pickers: dict[str, pn.widgets.Select] = {}
        self.mapping_box = pn.Column(
            pn.pane.Markdown("**Map the file's columns**"),
            self.columns,
            self.mapping,
            visible=False,
            sizing_mode="stretch_width",
        )
        self.format.param.watch(lambda _: self._refresh_mapping(), "value")
        self.kind.param.watch(lambda _: self._refresh_mapping(), "value")
        self.file.param.watch(lambda _: self._refresh_mapping(), "value")
        self.preview_button = pn.widgets.Button(
            label="Preview (dry run)", color="primary", variant="outline", width=170
        )
        self.run_button = pn.widgets.Button(label="Run import", color="primary", width=170)
        self.preview_button.on_click(lambda _: self._send(dry_run=True))
        self.run_button.on_click(lambda _: self._send(dry_run=False))
        self.status = pn.pane.Alert(
            "", alert_type="danger", visible=False, sizing_mode="stretch_width"
        )
        self.summary = pn.pane.HTML("", css_classes=["import-report-summary"], visible=False)
        self.preview = FrameTabulator(
            None,
            show_index=False,
            disabled=True,
            layout="fit_data_stretch",
            sizing_mode="stretch_width",
            height=300,
            css_classes=["import-preview"],
            visible=False,
        )
        self.report = FrameTabulator(
            None,
            show_index=False,
            disabled=True,
            layout="fit_data_stretch",
            sizing_mode="stretch_width",
            titles={"row": "Row", "column": "Column", "value": "Value", "reason": "Reason"},
            pagination="local",
            page_size=10,
            css_classes=["import-report"],
            visible=False,
        )
        self.report_title = pn.pane.Markdown("", visible=False)
        self._preview_title = pn.pane.Markdown("#### Preview (first rows, parsed)", visible=False)
        self.no_problems = pn.pane.Alert(
            "No problems found.", alert_type="success", visible=False, css_classes=["import-ok"]
        )
        self.progress = pn.indicators.Progress(
            value=0, max=100, sizing_mode="stretch_width", visible=False, bar_color="primary"
        )
        self.progress_text = pn.pane.HTML("", css_classes=["import-progress"], visible=False)
        self.result = pn.pane.HTML("", css_classes=["import-result"], visible=False)
        self._layout = pn.Card(
            pn.pane.Markdown(
                "Choose a file, its kind and format, preview it (nothing is written), then run "
                "the import. Re-importing a file adds nothing twice."
            ),
            self.file,
            pn.FlexBox(self.kind, self.format, self.mode, self.encoding),
            self.mapping_box,
            pn.Row(self.preview_button, self.run_button),
            self.status,
            self.progress,
            self.progress_text,
            self.result,
            self.summary,
            self._preview_title,
            self.preview,
            self.report_title,
            self.no_problems,
            self.report,
            title="Import a file",
            collapsed=False,
            sizing_mode="stretch_width",
            css_classes=["import-panel"],
        )

    # -- sending ---------------------------------------------------------------------------------

    def _fail(self, message: str) -> None:
        self.status.param.update(object=html.escape(message), visible=True)

    def _api_failed(self, error: ApiError) -> None:
        if error.status == 401:
            self.on_unauthorized()
            return
        self._fail(f"The server refused the file: {error.message}")

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

    def _send(self, *, dry_run: bool) -> None:
        self.status.visible = False
        if self.file.value is None:
            self._fail("Choose a file first.")
            return
        try:
            mapping = self._mapping()
        except ValueError as error:
            self._fail(str(error))
            return
        content, filename = self.file.value, self.file.filename or "upload.csv"
        options = dict(
            kind=self.kind.value,
            format=self.format.value,
            mode=self.mode.value,
            mapping=mapping,
            encoding=self.encoding.value,
        )
        self._set_busy(True)
        if not dry_run:
            self._clear_report()
            self.result.visible = False
            self.progress.param.update(value=-1, bar_color="primary", visible=True)
            self.progress_text.param.update(object="Uploading…", visible=True)

        def work() -> None:
            try:
                answer = self.client.upload_import(filename, content, dry_run=dry_run, **options)
            except ApiError as error:
                pn.state.execute(lambda error=error: self._upload_failed(error))
                return
            if dry_run:
                pn.state.execute(lambda: self._show_dry_run(answer))
            else:
                pn.state.execute(lambda: self._job_started(answer))

        in_background(work)

    def _set_busy(self, busy: bool) -> None:
        self.preview_button.disabled = busy
        self.run_button.disabled = busy

    def _upload_failed(self, error: ApiError) -> None:
        self._set_busy(False)
        self.progress.visible = False
        self.progress_text.visible = False
        self._api_failed(error)

    # -- dry run --------------------------------------------------------------------------------

    def _clear_report(self) -> None:
        for view in (self.summary, self.preview, self.report, self.report_title, self.no_problems):
            view.visible = False
        self._preview_title.visible = False

    def _show_dry_run(self, answer: dict) -> None:
        self._set_busy(False)
        with pn.io.hold():
            self.result.visible = False
            self.progress.visible = False
            self.progress_text.visible = False
            self.summary.param.update(
                object=summary_html(answer["summary"], would_succeed=answer.get("would_succeed")),
                visible=True,
            )
            self._preview_title.visible = True
            self.preview.param.update(value=preview_frame(answer.get("preview")), visible=True)
            self._show_problems(answer.get("errors"), answer.get("skipped_rows"))

    def _show_problems(self, errors: list | None, skipped: list | None) -> None:
        problems = [*(errors or []), *(skipped or [])]
        self.report_title.param.update(
            object=(
                f"#### Validation report — {format_count(len(errors or []))} problem(s), "
                f"{format_count(len(skipped or []))} skipped row(s)"
            ),
            visible=True,
        )
        self.no_problems.visible = not problems
        self.report.param.update(value=report_frame(problems), visible=bool(problems))

    # -- the job ----------------------------------------------------------------------------------

    def follow(self, job: dict) -> None:
        """Show the progress of `job` (a retried one, say) until it finishes."""
        self._clear_report()
        self.result.visible = False
        self.progress.param.update(value=-1, bar_color="primary", visible=True)
        self._set_busy(True)
        self._job_started(job)

    def _job_started(self, job: dict) -> None:
        self.follower.follow(job["id"])
        self.on_job_changed()
        self._show_job(job)

    def _show_job(self, job: dict) -> None:
        state, processed, total = job.get("state"), job.get("processed") or 0, job.get("total")
        with pn.io.hold():
            if total:
                percent = min(100, int(processed * 100 / total))
                self.progress.value = percent
                figures = f"{format_count(processed)} of {format_count(total)} rows ({percent}%)"
            else:
                self.progress.value = -1  # indeterminate until the row count is known
                figures = f"{format_count(processed)} rows"
            self.progress_text.param.update(
                object=(
                    f'<span data-job-state="{html.escape(str(state))}">Import #{job["id"]}: '
                    f"{html.escape(str(state))}</span> — {figures}"
                ),
                visible=True,
            )
            if state in FINISHED and self.follower.following:
                self._finished(job)

    def _finished(self, job: dict) -> None:
        self.follower.stop()
        self._set_busy(False)
        result = job.get("result") or {}
        state = job.get("state")
        if state == "succeeded":
            self.progress.param.update(value=100, bar_color="success")
            headline = "Import finished."
        else:
            self.progress.param.update(value=100, bar_color="danger")
            headline = f"Import {html.escape(str(state))}: " + html.escape(
                str(result.get("error") or "see the report below")
            )
        self.result.param.update(
            object=f'<p class="import-headline"><b>{headline}</b></p>' + summary_html(result),
            visible=True,
        )
        self._show_problems(job.get("errors"), result.get("skipped_rows"))
        self.on_job_changed()
        if state == "succeeded":
            self.on_imported(
                f"Imported {format_count(result.get('new', 0))} new row(s); "
                f"{format_count(result.get('already_present', 0))} already present."
            )
        else:
            self.notify("error", f"Import #{job['id']} {state}.")

    @property
    def job_id(self) -> int | None:
        """The job being followed (the latest import or retry)."""
        return self.follower.job_id

    def dispose(self) -> None:
        self.follower.forget()

    def __panel__(self):
        return self._layout


def jobs_frame(jobs: list[dict] | None) -> pd.DataFrame:
    """The jobs table: one row per job, newest first, as the API lists them."""
    rows = []
    for job in jobs or []:
        progress = job.get("progress")
        rows.append(
            {
                "id": job["id"],
                "kind": job["kind"],
                "state": job["state"],
                "file": (job.get("params") or {}).get("filename") or "",
                "progress": "" if progress is None else f"{round(progress * 100)}%",
                "error_count": job.get("error_count", 0),
                "created_at": _local_time(job.get("created_at")),
                "finished_at": _local_time(job.get("finished_at")),
            }
        )
    return pd.DataFrame(rows, columns=list(JOB_COLUMNS))


def _local_time(value: str | None) -> str:
    return value.replace("T", " ")[:19] if value else ""


class JobsPanel(pn.viewable.Viewer):
    """The organisation's recent jobs, and (analysts, admins) a retry for a failed or stalled
    one, whose progress the import panel then follows."""

    def __init__(
        self,
        client: ApiClient,
        *,
        can_retry: bool = False,
        on_retried: Callable[[dict], None] = lambda job: None,
        on_unauthorized: Callable[[], None] = lambda: None,
        limit: int = 10,
        **params,
    ) -> None:
        super().__init__(**params)
        self.client = client
        self.on_retried = on_retried
        self.on_unauthorized = on_unauthorized
        self.limit = limit
        self.jobs: list[dict] = []
        self.table = FrameTabulator(
            jobs_frame(None),
            show_index=False,
            disabled=True,
            layout="fit_data_stretch",
            sizing_mode="stretch_width",
            titles=JOB_COLUMNS,
            css_classes=["jobs-table"],
        )
        self.loading = pn.indicators.LoadingSpinner(
            value=False, size=20, visible=False, css_classes=["jobs-loading"]
        )
        self.status = pn.pane.Alert(
            "", alert_type="danger", visible=False, sizing_mode="stretch_width"
        )
        self.refresh_button = pn.widgets.Button(
            label="Refresh", variant="outline", width=100, css_classes=["jobs-refresh"]
        )
        self.refresh_button.on_click(lambda _: self.load())
        controls: list = [self.refresh_button, self.loading]
        self.retry_choice = pn.widgets.Select(
            label="Job to run again", options={}, width=260, css_classes=["jobs-retry-choice"]
        )
        self.retry_button = pn.widgets.Button(
            label="Retry", color="primary", width=100, disabled=True, css_classes=["jobs-retry"]
        )
        self.retry_button.on_click(lambda _: self.retry())
        if can_retry:
            controls = [self.retry_choice, self.retry_button, *controls]
        self._layout = pn.Card(
            pn.pane.Markdown(
                "The latest imports and other background jobs of your organisation. A failed job "
                "can be run again from the file it was given, unless it failed on the file "
                "itself (then fix the file and import it again)."
            ),
            pn.Row(*controls, align="end"),
            self.status,
            self.table,
            title="Recent jobs",
            collapsed=False,
            sizing_mode="stretch_width",
            css_classes=["jobs-panel"],
        )

    def load(self) -> None:
        """Fetch the latest jobs off the event loop."""
        self.loading.param.update(value=True, visible=True)

        def work() -> None:
            try:
                page = self.client.list_jobs(limit=self.limit)
            except ApiError as error:
                pn.state.execute(lambda error=error: self._failed(error))
                return
            pn.state.execute(lambda: self._show(page["items"]))

        in_background(work)

    def _show(self, jobs: list[dict]) -> None:
        self.jobs = jobs
        retryable = {
            f"#{job['id']} {job['kind']} ({job['state']})": job["id"]
            for job in jobs
            if job["state"] in RETRYABLE
        }
        with pn.io.hold():
            self.loading.param.update(value=False, visible=False)
            self.status.visible = False
            self.table.value = jobs_frame(jobs)
            self.retry_choice.options = retryable
            self.retry_button.disabled = not retryable

    def _failed(self, error: ApiError) -> None:
        self.loading.param.update(value=False, visible=False)
        if error.status == 401:
            self.on_unauthorized()
            return
        self.status.param.update(object=html.escape(error.message), visible=True)

    def retry(self) -> None:
        job_id = self.retry_choice.value
        if job_id is None:
            return
        self.retry_button.disabled = True
        on_retried = self.on_retried

        def work() -> None:
            try:
                job = self.client.retry_job(job_id)
            except ApiError as error:
                pn.state.execute(lambda error=error: self._retry_failed(job_id, error))
                return
            pn.state.execute(lambda: on_retried(job))

        in_background(work)

    def _retry_failed(self, job_id: int, error: ApiError) -> None:
        self.retry_button.disabled = False
        if error.status == 401:
            self.on_unauthorized()
            return
        self.status.param.update(
            object=html.escape(f"Job #{job_id} was not run again: {error.message}"), visible=True
        )

    def __panel__(self):
        return self._layout


class DataPage(pn.viewable.Viewer):
    title = "Data"

    def __init__(
        self,
        download_key: Callable[[], str | None],
        importer: ImportPanel | None = None,
        can_export_organization: bool = False,
        jobs: JobsPanel | None = None,
        **params,
    ) -> None:
        super().__init__(**params)
        self.download_key = download_key
        self.importer = importer
        self.jobs = jobs
        self.can_export_organization = can_export_organization
        self.downloads = pn.pane.HTML("", css_classes=["data-exports"])
        self.refresh_downloads()
        exports: list = [self.downloads]
        upload = (
            [importer]
            if importer is not None
            else [
                pn.pane.Alert(
                    "Importing data is for analysts and admins; ask one to import your files.",
                    alert_type="info",
                    css_classes=["import-not-allowed"],
                )
            ]
        )
        self._layout = pn.Column(
            *upload,
            pn.Card(
                pn.pane.Markdown(
                    "Every transaction as CSV, every customer with their totals as CSV, every "
                    "merchant as CSV, and (analysts and admins) the whole organisation as JSON; "
                    "each imports back (merchants, then customers, then transactions)."
                ),
                pn.FlexBox(*exports),
                title="Exports",
                collapsed=False,
                sizing_mode="stretch_width",
            ),
            *([jobs] if jobs is not None else []),
            sizing_mode="stretch_width",
        )

    def refresh_downloads(self) -> None:
        key = self.download_key()
        if not key:
            self.downloads.object = ""
            return
        # Plain links to the dashboard server's streaming export handler (see export.py).
        links = [
            ("export-transactions", "transactions.csv", "↓ All transactions (CSV)"),
            ("export-customers", "customers.csv", "↓ All customers (CSV)"),
            ("export-merchants", "merchants.csv", "↓ All merchants (CSV)"),
        ]
        if self.can_export_organization:
            links.append(
                ("export-organization", "organization.json", "↓ Whole organisation (JSON)")
            )
        self.downloads.object = " ".join(
            f'<a class="{css} btn btn-outline-primary btn-sm" '
            f'href="{html.escape(export_href(key, {}, name))}" download="{name}">{label}</a>'
            for css, name, label in links
        )

    def __panel__(self):
        return self._layout
