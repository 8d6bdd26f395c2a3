"""Downloads through the dashboard server, so the browser never holds the API token.

At login a session gets a random download key; pages link to `export/<key>/<name>?<filters>`
(transactions.csv, customers.csv, merchants.csv, organization.json), and this handler streams
the matching API export to the browser with the token of the session that owns the key, chunk by
chunk (a large organisation never sits in the dashboard's memory or blocks its event loop).

A key is bound to the browser it was issued to (the browser cookie of security.py, read from the
page request that opened the session): the same link from curl, or any other browser, is a 404,
exactly like a made-up key. A key is also short-lived: it expires KEY_LIFETIME_SECONDS after it was
issued, and the page swaps its links to a fresh key every ROTATE_SECONDS, so a link on screen always
works while a copied one soon stops. It dies at logout and when the browser session ends too.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import httpx
import panel as pn
import tornado.web

from spendlens_dashboard.security import BROWSER_COOKIE, browser_id

if TYPE_CHECKING:
    from spendlens_dashboard.state.session import Session

EXPORT_PARAMS = (
    "start_date",
    "end_date",
    "category",
    "merchant",
    "customer_id",
    "min_amount",
    "max_amount",
    "q",
    "sort",
)
CUSTOMER_EXPORT_PARAMS = ("q", "country", "signup_from", "signup_to", "lifecycle_stage")


@dataclass(frozen=True)
class Export:
    api_path: str
    media_type: str
    params: tuple[str, ...]


EXPORTS = {
    "transactions.csv": Export(
        "/api/v1/transactions/export.csv", "text/csv; charset=utf-8", EXPORT_PARAMS
    ),
    "customers.csv": Export(
        "/api/v1/exports/customers.csv", "text/csv; charset=utf-8", CUSTOMER_EXPORT_PARAMS
    ),
    "merchants.csv": Export("/api/v1/exports/merchants.csv", "text/csv; charset=utf-8", ()),
    "organization.json": Export("/api/v1/exports/organization.json", "application/json", ()),
}
ROUTE = (
    r"/export/([A-Za-z0-9_-]{20,100})/"
    r"(transactions\.csv|customers\.csv|merchants\.csv|organization\.json)"
)


# A key downloads for 15 minutes after it was issued; the page rotates its links well before.
KEY_LIFETIME_SECONDS = 15 * 60
ROTATE_SECONDS = 5 * 60


class DownloadKeys:
    """Maps download keys to the (live) sessions that issued them, their browser's id and the
    moment they expire."""

    def __init__(
        self,
        lifetime_seconds: float = KEY_LIFETIME_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions: dict[str, tuple[weakref.ref[Session], str | None, float]] = {}
        self._lock = threading.Lock()
        self.lifetime_seconds = lifetime_seconds
        self._clock = clock

    def issue(self, session: "Session", browser: str | None = None) -> str:
        """A new key for `session`, bound to `browser` (default: the browser cookie of the
        current Bokeh session's page request; without one the key downloads nothing)."""
        if browser is None:
            browser = session_browser_id()
        key = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            # Forget the keys that can no longer download anything.
            for old in [k for k, (_r, _b, ends) in self._sessions.items() if ends <= now]:
                del self._sessions[old]
            self._sessions[key] = (weakref.ref(session), browser, now + self.lifetime_seconds)
        return key

    def revoke(self, key: str | None) -> None:
        with self._lock:
            self._sessions.pop(key or "", None)

    def session_for(self, key: str) -> "Session | None":
        """The logged-in session that issued `key`, whichever browser asks."""
        with self._lock:
            ref, _browser, ends = self._sessions.get(key, (None, None, 0.0))
        if ends <= self._clock():
            return None
        session = ref() if ref else None
        return session if session is not None and session.token else None

    def download_for(self, key: str, browser: str | None) -> "Session | None":
        """The session whose key this is, when `browser` is the one it was issued to."""
        with self._lock:
            _ref, bound, _ends = self._sessions.get(key, (None, None, 0.0))
        if not bound or not browser or not secrets.compare_digest(bound, browser):
            return None
        return self.session_for(key)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._sessions

    def __len__(self) -> int:
        return len(self._sessions)


def session_browser_id() -> str | None:
    """The browser cookie the current Bokeh session was opened with (None outside a server)."""
    doc = pn.state.curdoc
    context = doc.session_context if doc is not None else None
    request = context.request if context is not None else None
    cookies = getattr(request, "cookies", None) or {}
    value = cookies.get(BROWSER_COOKIE)
    return value if isinstance(value, str) and value else None


DOWNLOAD_KEYS = DownloadKeys()


def export_href(key: str, params: dict, name: str = "transactions.csv") -> str:
    """Relative link to export `name` for `params` (the API's filter names, lists repeat)."""
    allowed = EXPORTS[name].params
    pairs: list[tuple[str, str]] = []
    for param, value in params.items():
        if param not in allowed or value in (None, ""):
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs.extend((param, str(v)) for v in values)
    query = urlencode(pairs)
    return f"export/{key}/{name}" + (f"?{query}" if query else "")


class ExportHandler(tornado.web.RequestHandler):
    """GET export/<key>/<name>: one of EXPORTS, streamed from the API."""

    def initialize(self, keys: DownloadKeys = DOWNLOAD_KEYS, timeout: float = 300.0) -> None:
        self.keys = keys
        self.timeout = timeout

    def _fail(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(message + "\n")

    async def get(self, key: str, name: str = "transactions.csv") -> None:
        session = self.keys.download_for(key, browser_id(self.request))
        if session is None:
            self._fail(404, "This download link has expired. Log in to the dashboard again.")
            return
        export = EXPORTS[name]
        params = [(n, v) for n in export.params for v in self.get_query_arguments(n)]
        url = f"{session.client.base_url}{export.api_path}"
        headers = {"Authorization": f"Bearer {session.token}"}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                async with http.stream("GET", url, params=params, headers=headers) as answer:
                    if answer.status_code >= 400:
                        await answer.aread()
                        self._fail(answer.status_code, _api_message(answer))
                        return
                    self.set_header("Content-Type", export.media_type)
                    self.set_header(
                        "Content-Disposition", f'attachment; filename="{_filename(self, name)}"'
                    )
                    self.set_header("Cache-Control", "no-store")
                    async for chunk in answer.aiter_bytes():
                        self.write(chunk)
                        await self.flush()
        except httpx.TransportError:
            if not self._headers_written:
                self._fail(502, "The API cannot be reached; try again later.")
            return
        self.finish()


def _api_message(answer: httpx.Response) -> str:
    try:
        body = answer.json()
        return str(body.get("detail") or body.get("error"))
    except (ValueError, AttributeError):
        return answer.text or f"HTTP {answer.status_code}"


def _filename(handler: tornado.web.RequestHandler, name: str = "transactions.csv") -> str:
    if name != "transactions.csv":
        return f"spendlens-{name}"
    # The dates come from the link's query, which anyone can edit: only digits and dashes go
    # into the quoted filename of the Content-Disposition header.
    start, end = (
        re.sub(r"[^0-9-]", "", handler.get_query_argument(n, ""))[:10]
        for n in ("start_date", "end_date")
    )
    period = f"-{start}-to-{end}" if start and end else ""
    return f"spendlens-transactions{period}.csv"
