"""A loading indicator that appears only when data takes a while.

Every spinner toggle is a model change the browser re-lays out, so flashing spinners on each
chart for a 100 ms answer costs more than the answer itself. The overlay is shown on one
container, and only when a load is still running after `delay` seconds.
"""

from __future__ import annotations

import panel as pn


class DelayedLoading:
    """Watcher for a store's `loading`: `store.param.watch(DelayedLoading(view), "loading")`."""

    def __init__(self, target: pn.viewable.Viewable, delay: float = 0.3) -> None:
        self.target = target
        self.delay_ms = int(delay * 1000)
        self.pending = False

    def __call__(self, event) -> None:
        self.pending = bool(event.new)
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:
            self.target.loading = self.pending  # no browser: no flicker to avoid
            return
        if self.pending:
            # Timeouts must be added under the document lock: schedule that on the loop.
            pn.state.execute(lambda: doc.add_timeout_callback(self._show, self.delay_ms))
        elif self.target.loading:
            pn.state.execute(self._hide)

    def _show(self) -> None:
        if self.pending and not self.target.loading:
            self.target.loading = True

    def _hide(self) -> None:
        if not self.pending:
            self.target.loading = False
