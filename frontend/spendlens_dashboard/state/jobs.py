"""Background jobs as the dashboard sees them: `JobStore` follows one job of any kind (what
GET /jobs/{id} last answered) until it finishes; `RecentJobsStore` lists the organisation's
latest jobs and queues a retry of one."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from spendlens_dashboard.api import ApiClient, ApiError
from spendlens_dashboard.background import in_background
from spendlens_dashboard.components.job_follower import POLL_MS, JobFollower
from spendlens_dashboard.state.stores import Store

FINISHED = ("succeeded", "failed", "cancelled")
# Jobs a worker may run again: a failed one (unless it failed on its input, which the server
# says with a 409) or one left `running` by a worker that died.
RETRYABLE = ("failed", "running")
# How a job is called in the page when its starter gives no label; other kinds say their name.
KIND_NAMES = {"import": "Import", "clv_fit": "Fit", "rfm": "RFM recompute"}
SENDING = "sending"


def job_label(kind: str, job_id: int) -> str:
    return f"{KIND_NAMES.get(kind, kind or 'Job')} #{job_id}"


class JobStore(param.Parameterized):
    """One job followed until it finishes. Starters call `sending` while their request is on its
    way, then `follow` with the job the API answered; views react to the parameters."""

    job_id = param.Integer(default=None, allow_None=True)
    kind = param.String(default="", doc="The API's job kind: import, rfm, clv_fit, ...")
    label = param.String(default="", doc="How the page names the job, e.g. 'Import #12'")
    state = param.String(
        default="",
        doc="'' (nothing yet), 'sending' (the request queuing it is on its way), then the "
        "API's: queued, running, succeeded, failed, cancelled",
    )
    processed = param.Integer(default=0)
    total = param.Integer(default=None, allow_None=True, doc="None until the job knows")
    progress = param.Number(
        default=None, allow_None=True, bounds=(0, 1), doc="processed / total; None while unknown"
    )
    result = param.Dict(default=None, allow_None=True, doc="What the job did, once finished")
    problems = param.List(default=[], doc="The problems found in the job's input")
    error = param.String(default="", doc="Why the job failed, or why it cannot be followed")
    api_error = param.ClassSelector(class_=ApiError, default=None, allow_None=True)
    following = param.Boolean(default=False, doc="A request or a job is on its way")
    finished = param.Boolean(default=False, doc="The job succeeded, failed or was cancelled")

    def __init__(self, client: ApiClient, period_ms: int = POLL_MS, **params) -> None:
        super().__init__(**params)
        self.client = client
        self.follower = JobFollower(
            client, on_job=self._answered, on_error=self._refused, period_ms=period_ms
        )

    def sending(self, label: str = "Sending…") -> None:
        """A request that queues a job is on its way: the view says `label` meanwhile."""
        self.follower.forget()
        self._reset(state=SENDING, label=label, following=True)

    def follow(self, job: dict[str, Any], label: str | None = None) -> None:
        """Follow `job` (at least its `id`, as POST answers or GET /jobs lists it) until it
        finishes; `label` defaults to the kind's name and the job's id."""
        kind = job.get("kind") or ""
        self._reset(
            job_id=job["id"],
            kind=kind,
            label=label or job_label(kind, job["id"]),
            state=job.get("state") or "queued",
            following=True,
        )
        self.follower.follow(job["id"])
        self._answered(job)

    def failed_to_send(self, error: ApiError) -> None:
        """The request that would have queued the job was refused: nothing to follow."""
        self._reset(api_error=error)

    def check(self) -> None:
        """Ask the API about the job now (the follower asks every POLL_MS in a browser)."""
        self.follower.poll()

    def stop(self) -> None:
        """Stop asking (the page is thrown away); what was shown stays."""
        self.follower.forget()

    def _reset(self, **values: Any) -> None:
        blank = dict(
            job_id=None,
            kind="",
            label="",
            state="",
            processed=0,
            total=None,
            progress=None,
            result=None,
            problems=[],
            error="",
            api_error=None,
            following=False,
            finished=False,
        )
        self.param.update(**{**blank, **values})

    def _answered(self, job: dict[str, Any]) -> None:
        if job.get("id") != self.job_id or self.finished:
            return
        state = job.get("state") or self.state
        processed, total = job.get("processed") or 0, job.get("total") or None
        finished = state in FINISHED
        result = job.get("result") if finished else None
        if finished:
            self.follower.stop()
            progress = 1.0
        else:
            progress = min(1.0, processed / total) if total else None
        error = ""
        if state in ("failed", "cancelled"):
            error = str((result or {}).get("error") or state)
        self.param.update(
            kind=job.get("kind") or self.kind,
            state=state,
            processed=processed,
            total=total,
            progress=progress,
            result=result,
            problems=list(job.get("errors") or []),
            error=error,
            following=not finished,
            finished=finished,
        )

    def _refused(self, error: ApiError) -> None:
        self.param.update(
            api_error=error, error=f"Could not follow: {error.message}", following=False
        )


class JobStarter(param.Parameterized):
    """What a form that queues a job writes through: why its request was refused or not sent
    (`message`, `api_error`), and the job it queued, followed by `job`."""

    job = param.ClassSelector(class_=JobStore, constant=True)
    message = param.String(default="", doc="Why the last request was refused or not sent")
    api_error = param.ClassSelector(class_=ApiError, default=None, allow_None=True)

    def __init__(self, client: ApiClient, job: JobStore | None = None, **params) -> None:
        super().__init__(job=job or JobStore(client), **params)
        self.client = client

    def refuse(self, message: str) -> None:
        """The form's inputs cannot be sent (no file, no window, ...): nothing is asked."""
        self.param.update(message=message, api_error=None)

    def _refused(self, error: ApiError, message: str) -> None:
        """The API refused the request that would have queued the job."""
        self.job.failed_to_send(error)
        self.param.update(api_error=error, message=message)

    def dispose(self) -> None:
        self.job.stop()


class RecentJobsStore(Store):
    """GET /jobs: the organisation's latest jobs; `retry` queues one of them again."""

    limit = param.Integer(default=10, bounds=(1, 100))
    jobs = param.List(default=[], item_type=dict)
    retried = param.Dict(default=None, allow_None=True, doc="The job a retry queued")
    retry_error = param.ClassSelector(class_=ApiError, default=None, allow_None=True)
    retry_message = param.String(default="", doc="Why the last retry was refused")

    @property
    def retryable(self) -> list[dict]:
        return [job for job in self.jobs if job["state"] in RETRYABLE]

    def _fetch(self) -> dict[str, Any]:
        return {"jobs": self.client.list_jobs(limit=self.limit)["items"]}

    def retry(self, job_id: int) -> None:
        """POST /jobs/{id}/retry off the event loop; `retried` or `retry_message` tells."""
        self.param.update(retry_error=None, retry_message="")

        def work() -> None:
            try:
                job = self.client.retry_job(job_id)
            except ApiError as error:
                message = f"Job #{job_id} was not run again: {error.message}"
                self._on_loop(retry_error=error, retry_message=message)
                return
            self._on_loop(retried=job)

        in_background(work)

    def _on_loop(self, **values: Any) -> None:
        pn.state.execute(lambda: self.param.update(**values))
