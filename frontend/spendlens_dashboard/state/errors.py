"""The one place the dashboard's API failures go: a 401 logs the session out with a message; any
other refusal becomes one error notification, unless the form that asked shows it itself."""

from __future__ import annotations

import logging
from collections.abc import Callable

import param

from spendlens_dashboard.api import ApiError
from spendlens_dashboard.state.session import Session

logger = logging.getLogger("spendlens_dashboard")

Notify = Callable[[str, str], None]


class ApiErrors:
    """Built once per browser session by the App; every store is handed to `watch`."""

    def __init__(self, session: Session, notify: Notify = lambda kind, message: None) -> None:
        self.session = session
        self.notify = notify

    def report(self, error: ApiError, what: str | None = "Could not load data") -> None:
        """A 401 ends the session (its token is no good anywhere); otherwise a toast saying
        `what` failed, or nothing when `what` is None (the asking form shows the message)."""
        if error.status == 401:
            self.session.expire()
            return
        logger.warning("API call failed: %s", error)
        if what is not None:
            self.notify("error", f"{what}: {error.message}")

    def watch(
        self,
        store: param.Parameterized,
        what: str | None = "Could not load data",
        name: str = "error",
    ) -> None:
        """Report every ApiError the store puts into its parameter `name`."""

        def changed(event: param.parameterized.Event) -> None:
            if isinstance(event.new, ApiError):
                self.report(event.new, what)

        store.param.watch(changed, name)

    def unauthorized(self) -> None:
        """For views that learn of a 401 on their own (the transaction editor)."""
        self.session.expire()
