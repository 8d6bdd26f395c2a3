"""The data page: upload a file (format or column mapping), preview it with the server's
validation report, run the import with a live progress bar, see the recent jobs, and download
exports.

Viewers only see the exports and the jobs: uploading is for analysts and admins.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import panel as pn

from spendlens_dashboard.components.import_form import ImportForm
from spendlens_dashboard.components.import_report import ImportReport
from spendlens_dashboard.components.job_progress import JobProgress
from spendlens_dashboard.components.jobs_panel import JobsPanel
from spendlens_dashboard.export import export_href
from spendlens_dashboard.formatting import format_count
from spendlens_dashboard.state.imports import ImportStore


def imported_message(result: dict | None) -> str:
    """What the toast says after an import succeeded."""
    result = result or {}
    return (
        f"Imported {format_count(result.get('new', 0))} new row(s); "
        f"{format_count(result.get('already_present', 0))} already present."
    )


class ImportPanel(pn.viewable.Viewer):
    """Upload form, the import job's progress, and the dry run's or the job's report."""

    def __init__(self, store: ImportStore, **params) -> None:
        super().__init__(**params)
        self.store = store
        self.form = ImportForm(store)
        self.progress = JobProgress(
            store.job, css_class="import-progress", unit="rows", show_failure=False
        )
        self.report = ImportReport(store)
        self._layout = pn.Card(
            self.form,
            self.progress,
            self.report,
            title="Import a file",
            collapsed=False,
            sizing_mode="stretch_width",
            css_classes=["import-panel"],
        )

    @property
    def job_id(self) -> int | None:
        """The job being followed (the latest import or retry)."""
        return self.store.job.job_id

    def dispose(self) -> None:
        self.store.dispose()

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
