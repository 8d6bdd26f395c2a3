"""Slow work (API calls) off the server's event loop, so one session never blocks another and
loading spinners reach the browser while data is on its way.

Browser events are still handled in order on the event loop (Panel's own `nthreads` would
handle them on a pool, where a click can overtake the keystrokes typed just before it).
Outside a server session (tests, scripts) the work simply runs at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import panel as pn
from panel.io.state import set_curdoc

logger = logging.getLogger("spendlens_dashboard")

_workers: ThreadPoolExecutor | None = None


def configure(threads: int) -> None:
    """Size the pool (the server calls this once at start-up)."""
    global _workers
    if _workers is None:
        _workers = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="spendlens-session")


def in_background(work: Callable[[], None]) -> None:
    """Run `work` on a worker thread with this session's document current; Panel sends the
    changes it makes to the browser under the document lock."""
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        work()
        return
    configure(8)

    def run() -> None:
        with set_curdoc(doc):
            try:
                work()
            except Exception:  # a bug must not vanish silently in a worker
                logger.exception("background work failed")

    _workers.submit(run)
