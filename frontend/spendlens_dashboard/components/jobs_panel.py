"""The organisation's recent jobs as a table, and (analysts, admins) a retry of a failed or
stalled one. It shows the recent-jobs store; who follows a retried job is the page's choice."""

from __future__ import annotations

import html

import pandas as pd
import panel as pn
import param

from spendlens_dashboard.components.frame_table import FrameTabulator
from spendlens_dashboard.components.table import fitted
from spendlens_dashboard.state.jobs import RecentJobsStore

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


# While a listed job is queued or running, the list is fetched again every POLL_SECONDS (for at
# most MAX_POLLS in a row: a stalled job does not keep a forgotten tab polling forever; Refresh
# starts again).
ACTIVE_STATES = ("queued", "running")
POLL_SECONDS = 3
MAX_POLLS = 200


def _local_time(value: str | None) -> str:
    return value.replace("T", " ")[:19] if value else ""


class JobsPanel(pn.viewable.Viewer):
    """The latest jobs, a Refresh button and, with `can_retry`, the retry controls."""

    def __init__(self, store: RecentJobsStore, *, can_retry: bool = False, **params) -> None:
        super().__init__(**params)
        self.store = store
        self.table = FrameTabulator(
            jobs_frame(None),
            show_index=False,
            disabled=True,
            titles=JOB_COLUMNS,
            css_classes=["jobs-table"],
            **fitted(
                {"id": 60, "state": 90, "progress": 80, "created_at": 150, "finished_at": 150},
                text_align={"progress": "right", "error_count": "right"},
            ),
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
        self.refresh_button.on_click(lambda _: self.refresh())
        self._polls = 0
        self._poll_pending = False
        self.retry_choice = pn.widgets.Select(
            label="Job to run again", options={}, width=260, css_classes=["jobs-retry-choice"]
        )
        self.retry_button = pn.widgets.Button(
            label="Retry", color="primary", width=100, disabled=True, css_classes=["jobs-retry"]
        )
        self.retry_button.on_click(lambda _: self.retry())
        controls: list = [self.refresh_button, self.loading]
        if can_retry:
            controls = [self.retry_choice, self.retry_button, *controls]
        store.param.watch(self._loading, "loading")
        store.param.watch(lambda _: pn.state.execute(self._show), "loaded")
        store.param.watch(lambda *_: pn.state.execute(self._failed), ["error", "retry_message"])
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

    def _loading(self, event: param.parameterized.Event) -> None:
        # Hidden again with the answer, in the same batch as the table: a layout change of its
        # own while the table takes new rows was seen to leave old rows in the browser.
        if event.new:
            pn.state.execute(lambda: self.loading.param.update(value=True, visible=True))

    def _show(self) -> None:
        retryable = {
            f"#{job['id']} {job['kind']} ({job['state']})": job["id"]
            for job in self.store.retryable
        }
        with pn.io.hold():
            self.loading.param.update(value=False, visible=False)
            self.status.visible = False
            self.table.value = jobs_frame(self.store.jobs)
            self.retry_choice.options = retryable
            self.retry_button.disabled = not retryable
        self._poll_while_active()

    def refresh(self) -> None:
        self._polls = 0
        self.store.load()

    def _poll_while_active(self) -> None:
        """Fetch the list again in a moment while one of its jobs is still on its way, so a
        queued import turns into succeeded (or failed) on screen without a click."""
        doc = pn.state.curdoc
        active = any(job["state"] in ACTIVE_STATES for job in self.store.jobs)
        if not active:
            self._polls = 0
            return
        if self._poll_pending or self._polls >= MAX_POLLS:
            return
        if doc is None or doc.session_context is None:  # not served: nothing to poll for
            return
        self._poll_pending = True
        self._polls += 1
        doc.add_timeout_callback(self._poll, POLL_SECONDS * 1000)

    def _poll(self) -> None:
        self._poll_pending = False
        if self.store.client.token:  # not after logout
            self.store.load()

    def _failed(self) -> None:
        store = self.store
        message = store.retry_message or (store.error.message if store.error else "")
        with pn.io.hold():
            if store.error is not None:
                self.loading.param.update(value=False, visible=False)
            if store.retry_message:
                self.retry_button.disabled = False
            self.status.param.update(object=html.escape(message), visible=bool(message))

    def retry(self) -> None:
        job_id = self.retry_choice.value
        if job_id is None:
            return
        self.retry_button.disabled = True
        self.store.retry(job_id)

    def __panel__(self):
        return self._layout
