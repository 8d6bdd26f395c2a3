"""Importing a file: POST /imports as a dry run (its report) or for real (its job, followed by a
JobStore). The import form hands its inputs here and shows what the parameters say."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import panel as pn
import param

from spendlens_dashboard.api import ApiClient, ApiError
from spendlens_dashboard.background import in_background
from spendlens_dashboard.state.jobs import JobStarter


@dataclass(frozen=True)
class ImportRequest:
    """What the form sends: the file and how to read it."""

    filename: str
    content: bytes
    kind: str = "transactions"
    format: str = "native-csv"
    mode: str = "all-or-nothing"
    mapping: str | None = None
    encoding: str = "utf-8"


class ImportStore(JobStarter):
    """A dry run's answer in `report`; a real import's job in `job`; a refusal in `message`."""

    busy = param.Boolean(default=False, doc="A request or an import job is on its way")
    report = param.Dict(default=None, allow_None=True, doc="The last dry run's answer")

    def __init__(self, client: ApiClient, **params) -> None:
        super().__init__(client, **params)
        self.job.param.watch(self._job_following, "following")

    def preview(self, request: ImportRequest) -> None:
        """Dry run: the server's summary, preview and validation report, nothing written."""
        self._send(request, dry_run=True)

    def run(self, request: ImportRequest) -> None:
        """The import itself, queued as a job that `job` follows until it finishes."""
        self._send(request, dry_run=False)

    def follow(self, job: dict[str, Any]) -> None:
        """Follow a job queued elsewhere (a retry) as if this form had started it."""
        self.param.update(report=None, message="", api_error=None)
        self.job.follow(job)

    def _send(self, request: ImportRequest, *, dry_run: bool) -> None:
        self.param.update(busy=True, message="", api_error=None)
        if not dry_run:
            self.report = None
            self.job.sending("Uploading…")
        fields = asdict(request)
        filename, content = fields.pop("filename"), fields.pop("content")

        def work() -> None:
            try:
                answer = self.client.upload_import(filename, content, dry_run=dry_run, **fields)
            except ApiError as error:
                message = f"The server refused the file: {error.message}"
                pn.state.execute(lambda error=error: self._refused(error, message, dry_run))
                return
            if dry_run:
                pn.state.execute(lambda: self.param.update(report=answer, busy=False))
            else:
                pn.state.execute(lambda: self.job.follow(answer))

        in_background(work)

    def _refused(self, error: ApiError, message: str, dry_run: bool = False) -> None:
        if dry_run:  # no job was on its way
            self.param.update(busy=False, api_error=error, message=message)
        else:
            super()._refused(error, message)

    def _job_following(self, event: param.parameterized.Event) -> None:
        self.busy = event.new
