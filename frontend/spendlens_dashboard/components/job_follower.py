"""Following a background job from a page: GET /jobs/{id} every POLL_MS, off the event loop and
one question at a time, handing each answer (or the API's refusal) back on the event loop."""

from __future__ import annotations

from collections.abc import Callable

import panel as pn

from spendlens_dashboard.api import ApiClient, ApiError
from spendlens_dashboard.background import in_background

POLL_MS = 400


class JobFollower:
    """Polls the job last given to `follow` until `stop`; answers about an earlier job (one
    replaced meanwhile) are dropped."""

    def __init__(
        self,
        client: ApiClient,
        on_job: Callable[[dict], None],
        on_error: Callable[[ApiError], None],
        period_ms: int = POLL_MS,
    ) -> None:
        self.client = client
        self.on_job = on_job
        self.on_error = on_error
        self.period_ms = period_ms
        self.job_id: int | None = None
        self._poller = None
        self._asking = False

    @property
    def following(self) -> bool:
        return self._poller is not None

    def follow(self, job_id: int) -> None:
        self.job_id = job_id
        self.stop()
        self._poller = pn.state.add_periodic_callback(self.poll, period=self.period_ms)

    def stop(self) -> None:
        if self._poller is not None:
            self._poller.stop()
            self._poller = None

    def forget(self) -> None:
        self.stop()
        self.job_id = None

    def poll(self) -> None:
        """Ask about the job now, unless a question is already on its way."""
        job_id = self.job_id
        if job_id is None:
            self.stop()
            return
        if self._asking:
            return
        self._asking = True

        def work() -> None:
            try:
                job = self.client.get_job(job_id)
            except ApiError as error:
                pn.state.execute(lambda error=error: self._failed(job_id, error))
                return
            finally:
                self._asking = False
            if job_id == self.job_id:
                pn.state.execute(lambda: self.on_job(job) if job_id == self.job_id else None)

        in_background(work)

    def _failed(self, job_id: int, error: ApiError) -> None:
        if job_id != self.job_id:
            return
        self.stop()
        self.on_error(error)
