"""Dashboard sessions that outlive a page: a reload, a bookmark or a second tab of the same
browser finds the analyst still logged in, without the API token ever reaching the browser.

At login the App asks for a one-time *ticket* (bound to the browser cookie of security.py) and
shows it as a hidden image, `session/<ticket>`; `SessionCookieHandler` answers that request with
a fresh random session key in an HttpOnly, SameSite=Strict cookie (Secure over HTTPS) and keeps,
server-side only, which token and browser the key belongs to. The next page of that browser
(reload, link) is opened with the cookie, and the App resumes the session from it.

Like the browser cookie, the key reaches Bokeh and Panel only as a digest (security.py rewrites
the request's cookies first), so the page, which sees the cookies of its request, never holds it.
A key dies at logout, when the API refuses its token (expired, revoked) and when the token's
lifetime ends; a new login always issues a new key.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass

import panel as pn
import tornado.web

from spendlens_dashboard.security import BROWSER_COOKIE, SESSION_COOKIE, browser_id, session_digest

TICKET_SECONDS = 120
SESSION_ROUTE = r"/session/([A-Za-z0-9_-]{20,100})"
# A transparent 1×1 GIF: the ticket is fetched as an image.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@dataclass
class _Grant:
    token: str
    browser: str
    ends: float  # clock time when the token expires: the session ends with it
    expires: float  # when this ticket or session is gone (a ticket lives TICKET_SECONDS)


class DashboardSessions:
    """Tickets and session keys → (API token, browser); thread-safe, in memory."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self._tickets: dict[str, _Grant] = {}
        self._sessions: dict[str, _Grant] = {}  # by digest of the key
        self._lock = threading.Lock()

    def issue_ticket(self, token: str, browser: str | None, lifetime: float) -> str | None:
        """A one-time ticket the browser `browser` exchanges for a session cookie that lasts
        `lifetime` seconds (the token's); None without a browser cookie (outside a server)."""
        if not browser or not token:
            return None
        ticket = secrets.token_urlsafe(32)
        now = self.clock()
        ends = now + lifetime
        with self._lock:
            self._purge(now)
            self._tickets[ticket] = _Grant(token, browser, ends, min(ends, now + TICKET_SECONDS))
        return ticket

    def redeem(self, ticket: str, browser: str | None) -> str | None:
        """The new session key for a ticket redeemed by the browser it was issued to."""
        now = self.clock()
        with self._lock:
            grant = self._tickets.pop(ticket, None)
            if grant is None or grant.expires < now or not browser:
                return None
            if not secrets.compare_digest(grant.browser, browser):
                return None
            key = secrets.token_urlsafe(32)
            self._sessions[session_digest(key)] = _Grant(
                grant.token, browser, grant.ends, grant.ends
            )
        return key

    def token_for(self, digest: str | None, browser: str | None) -> str | None:
        """The token of the session whose key has this digest, for the browser it belongs to."""
        if not digest or not browser:
            return None
        with self._lock:
            grant = self._sessions.get(digest)
            if grant is None:
                return None
            if grant.expires < self.clock():
                del self._sessions[digest]
                return None
            if not secrets.compare_digest(grant.browser, browser):
                return None
            return grant.token

    def end(self, token: str | None) -> None:
        """Forget every ticket and session of this token (logout, expiry, revocation)."""
        if not token:
            return
        with self._lock:
            for table in (self._tickets, self._sessions):
                for name in [n for n, g in table.items() if g.token == token]:
                    del table[name]

    def _purge(self, now: float) -> None:
        for table in (self._tickets, self._sessions):
            for name in [n for n, g in table.items() if g.expires < now]:
                del table[name]

    def __len__(self) -> int:
        return len(self._sessions)


DASHBOARD_SESSIONS = DashboardSessions()


def page_cookie(name: str) -> str | None:
    """A cookie (as handlers see it: a digest) of the request that opened this Bokeh session."""
    doc = pn.state.curdoc
    context = doc.session_context if doc is not None else None
    request = context.request if context is not None else None
    cookies = getattr(request, "cookies", None) or {}
    value = cookies.get(name)
    return value if isinstance(value, str) and value else None


def page_session_token() -> str | None:
    """The API token of the dashboard session this page's browser is logged in to, if any."""
    return DASHBOARD_SESSIONS.token_for(page_cookie(SESSION_COOKIE), page_cookie(BROWSER_COOKIE))


class SessionCookieHandler(tornado.web.RequestHandler):
    """GET session/<ticket>: sets the session cookie of a ticket's browser (a 1×1 image)."""

    def initialize(self, sessions: DashboardSessions = DASHBOARD_SESSIONS) -> None:
        self.sessions = sessions

    def get(self, ticket: str) -> None:
        key = self.sessions.redeem(ticket, browser_id(self.request))
        self.set_header("Cache-Control", "no-store")
        if key is None:
            self.set_status(404)
            self.finish()
            return
        secure = "; Secure" if self.request.protocol == "https" else ""
        self.add_header(
            "Set-Cookie", f"{SESSION_COOKIE}={key}; Path=/; HttpOnly; SameSite=Strict" + secure
        )
        self.set_header("Content-Type", "image/gif")
        self.finish(PIXEL)
