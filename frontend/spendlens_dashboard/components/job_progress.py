"""The one view of a followed job (any kind): its name and state, a progress bar, how far it got
and why it failed. What a finished job produced is for its page to show."""

from __future__ import annotations

import html

import panel as pn
import param

from spendlens_dashboard.formatting import format_count
from spendlens_dashboard.state.jobs import SENDING, JobStore

FAILURE_CSS = ":host(.job-error) { color: var(--bs-danger, #dc3545); font-weight: 600; }"


def progress_html(store: JobStore, unit: str = "items") -> str:
    """'Import #12: running — 400 of 1,000 rows (40%)'; the state in a data-job-state
    attribute (what tests and scripts wait on)."""
    state = html.escape(store.state)
    if store.state == SENDING:
        return f'<span data-job-state="{state}">{html.escape(store.label)}</span>'
    if store.total:
        percent = min(100, int(store.processed * 100 / store.total))
        if store.finished and store.state == "succeeded":
            percent = 100
        figures = (
            f"{format_count(store.processed)} of {format_count(store.total)} {unit} ({percent}%)"
        )
    elif store.state == "queued":
        figures = "waiting for a worker"
    elif store.state == "succeeded":
        figures = f"{format_count(store.processed)} {unit} (100%)"
    else:
        figures = f"{format_count(store.processed)} {unit}"
    return (
        f'<span data-job-state="{state}" data-job-kind="{html.escape(store.kind)}">'
        f"{html.escape(store.label)}: {state}</span> — {figures}"
    )


def failure_text(store: JobStore) -> str:
    """'Fit #3 failed: Too few customers to fit', or why the job cannot be followed."""
    if store.finished:
        return f"{store.label} {store.state}: {store.error}"
    return f"{store.label}: {store.error}"


def bar_state(store: JobStore) -> tuple[int, str]:
    """The progress bar's value (-1: indeterminate) and colour."""
    if store.finished:
        return 100, "success" if store.state == "succeeded" else "danger"
    if store.progress is None:
        return -1, "primary"
    return int(store.progress * 100), "primary"


class JobProgress(pn.viewable.Viewer):
    """Hidden until its store sends or follows a job; `unit` names what the job counts."""

    store = param.ClassSelector(class_=JobStore, constant=True)
    unit = param.String(default="items", constant=True)
    show_failure = param.Boolean(
        default=True, doc="False where the page says itself why a finished job failed"
    )

    def __init__(self, store: JobStore, css_class: str = "job-progress", **params) -> None:
        super().__init__(store=store, **params)
        self.bar = pn.indicators.Progress(
            value=0, max=100, sizing_mode="stretch_width", visible=False, bar_color="primary"
        )
        self.text = pn.pane.HTML("", css_classes=[css_class], visible=False)
        # Plain text, not an alert: the form around the view keeps its own alert the only one.
        self.failure = pn.pane.HTML(
            "", visible=False, sizing_mode="stretch_width", css_classes=["job-error"],
            stylesheets=[FAILURE_CSS],
        )  # fmt: skip
        self._layout = pn.Column(self.bar, self.text, self.failure, sizing_mode="stretch_width")
        store.param.watch(lambda *_: self._draw(), ["state", "processed", "total", "error"])
        self._draw()

    def _draw(self) -> None:
        store = self.store
        shown = bool(store.state)
        value, color = bar_state(store)
        error = store.error if store.state != SENDING else ""
        with pn.io.hold():
            self.bar.param.update(value=value, bar_color=color, visible=shown)
            self.text.param.update(object=progress_html(store, self.unit), visible=shown)
            self.failure.param.update(
                object=html.escape(failure_text(store) if error else ""),
                visible=bool(error) and (self.show_failure or not store.finished),
            )

    def __panel__(self):
        return self._layout
