"""What an import said: a dry run's summary, parsed preview and validation report, or a finished
import job's result (headline, figures and the problems of its input). It reacts to the import
store; the job's progress is the JobProgress view's."""

from __future__ import annotations

import html

import pandas as pd
import panel as pn
import param

from spendlens_dashboard.components.frame_table import FrameTabulator
from spendlens_dashboard.formatting import format_count
from spendlens_dashboard.state.imports import ImportStore
from spendlens_dashboard.state.jobs import SENDING

REPORT_COLUMNS = ["row", "column", "value", "reason"]


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


def result_html(state: str, result: dict | None) -> str:
    """A finished import's headline and figures."""
    result = result or {}
    if state == "succeeded":
        headline = "Import finished."
    else:
        headline = f"Import {html.escape(state)}: " + html.escape(
            str(result.get("error") or "see the report below")
        )
    return f'<p class="import-headline"><b>{headline}</b></p>' + summary_html(result)


def _table(css_class: str, **options) -> FrameTabulator:
    return FrameTabulator(
        None,
        show_index=False,
        disabled=True,
        layout="fit_data_stretch",
        sizing_mode="stretch_width",
        css_classes=[css_class],
        visible=False,
        **options,
    )


class ImportReport(pn.viewable.Viewer):
    """Hidden until a dry run answers or an import job finishes."""

    def __init__(self, store: ImportStore, **params) -> None:
        super().__init__(**params)
        self.store = store
        self.result = pn.pane.HTML("", css_classes=["import-result"], visible=False)
        self.summary = pn.pane.HTML("", css_classes=["import-report-summary"], visible=False)
        self.preview_title = pn.pane.Markdown("#### Preview (first rows, parsed)", visible=False)
        self.preview = _table("import-preview", height=300)
        self.report_title = pn.pane.Markdown("", visible=False)
        self.no_problems = pn.pane.Alert(
            "No problems found.", alert_type="success", visible=False, css_classes=["import-ok"]
        )
        self.report = _table(
            "import-report",
            titles={"row": "Row", "column": "Column", "value": "Value", "reason": "Reason"},
            pagination="local",
            page_size=10,
        )
        store.param.watch(self._report_changed, "report")
        store.job.param.watch(self._job_changed, ["job_id", "state", "finished"])
        self._layout = pn.Column(
            self.result,
            self.summary,
            self.preview_title,
            self.preview,
            self.report_title,
            self.no_problems,
            self.report,
            sizing_mode="stretch_width",
        )

    def clear(self) -> None:
        for view in (self.result, self.summary, self.preview_title, self.preview):
            view.visible = False
        for view in (self.report_title, self.no_problems, self.report):
            view.visible = False

    def _report_changed(self, event: param.parameterized.Event) -> None:
        answer = event.new
        with pn.io.hold():
            self.clear()
            if answer is None:
                return
            self.summary.param.update(
                object=summary_html(answer["summary"], would_succeed=answer.get("would_succeed")),
                visible=True,
            )
            self.preview_title.visible = True
            self.preview.param.update(value=preview_frame(answer.get("preview")), visible=True)
            self._show_problems(answer.get("errors"), answer.get("skipped_rows"))

    def _job_changed(self, *events: param.parameterized.Event) -> None:
        job, changed = self.store.job, {event.name for event in events}
        if not job.finished:
            if "job_id" in changed or job.state == SENDING:
                self.clear()  # another import (or retry): the last one's report goes
            return
        if "finished" not in changed:
            return
        result = job.result or {}
        with pn.io.hold():
            self.clear()
            self.result.param.update(object=result_html(job.state, result), visible=True)
            self._show_problems(job.problems, result.get("skipped_rows"))

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

    def __panel__(self):
        return self._layout
