"""Security headers on every response of the dashboard server, and the browser cookie.

`SecurityHeaders` is a tornado output transform, so it covers what Bokeh and Panel serve (pages,
static files, the websocket handshake) as well as our own download handler:

- a Content-Security-Policy: scripts only from this server, plus the inline scripts of the page
  itself, which get a fresh nonce per response (Bokeh's page embeds the session's token in one,
  so no fixed hash could allow it); no inline event handlers, no plugins, no <base>, no framing;
- X-Frame-Options (for browsers without frame-ancestors), nosniff, no Referer to anyone.

It also gives every browser a random, HttpOnly, SameSite=Strict cookie (BROWSER_COOKIE) on its
first request: download keys are bound to it (see export.py), so a key alone, copied to curl or
another browser, downloads nothing. Handlers see only a digest of it (`browser_id`), and only a
digest of the dashboard session cookie (SESSION_COOKIE, see sessions.py).
"""

from __future__ import annotations

import hashlib
import re
import secrets

import tornado.httputil
import tornado.web

BROWSER_COOKIE = "spendlens_browser"
# The key of a logged-in dashboard session (see sessions.py), set only by its own handler.
SESSION_COOKIE = "spendlens_session"
_COOKIE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_SCRIPT_TAG = re.compile(rb"<script(?=[\s>])")

# Why each exception to "only from this server, only with the nonce" is there:
# - script-src 'unsafe-eval': Panel's templates (TemplateActions) and notification area are
#   ReactiveHTML models, whose scripts and HTML templates Panel's JS compiles in the browser with
#   `new Function`; without it the page does not render at all. What it compiles is Panel's own
#   code, sent by this server; 'unsafe-eval' does not let markup run: inline <script> elements
#   without the nonce and on*= attributes stay refused, which is what an injected payload needs.
# - style-src 'unsafe-inline': Bokeh and Panel style every component through <style> elements
#   and style attributes they create at run time; no nonce can reach those. Styles cannot run
#   code, so this leaves script injection closed.
# - img-src data: blob:: Bokeh draws its toolbar icons and exports plots as data/blob URLs.
# - font-src data:: fonts inlined in the bundled CSS.
# The XSS browser test fails on any CSP violation a page reports.
_POLICY = (
    "default-src 'self'",
    "script-src 'self' 'nonce-{nonce}' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)


def content_security_policy(nonce: str) -> str:
    return "; ".join(_POLICY).format(nonce=nonce)


def browser_id(request: tornado.httputil.HTTPServerRequest) -> str | None:
    """The id of the request's browser as handlers see it: a digest of the browser cookie."""
    morsel = request.cookies.get(BROWSER_COOKIE)
    value = morsel.value if morsel is not None else ""
    return value if _DIGEST.match(value) else None


def _digest(cookie: str) -> str:
    return hashlib.sha256(f"spendlens-browser:{cookie}".encode()).hexdigest()


def session_digest(key: str) -> str:
    """What the server (and the page's request) knows of a dashboard session key."""
    return hashlib.sha256(f"spendlens-session:{key}".encode()).hexdigest()


class SecurityHeaders(tornado.web.OutputTransform):
    """Adds the headers above to every response (and nonces to the page's inline scripts)."""

    def __init__(self, request: tornado.httputil.HTTPServerRequest) -> None:
        super().__init__(request)
        self.request = request
        self.new_cookie: str | None = None
        morsel = request.cookies.get(BROWSER_COOKIE)
        cookie = morsel.value if morsel is not None else ""
        if not _COOKIE.match(cookie):
            cookie = self.new_cookie = secrets.token_urlsafe(32)
        # Transforms are made before the handler runs, so handlers only ever see a digest of the
        # cookie: Bokeh copies a page request's cookies into the session token it writes into
        # the page, where a script could read it; a digest there cannot be sent back as the
        # cookie. A browser's very first page request already carries it this way.
        # The session key (sessions.py) is digested the same way, for the same reason.
        others = [
            f"{name}={value.coded_value}"
            for name, value in request.cookies.items()
            if name not in (BROWSER_COOKIE, SESSION_COOKIE)
        ]
        ours = [f"{BROWSER_COOKIE}={_digest(cookie)}"]
        morsel = request.cookies.get(SESSION_COOKIE)
        if morsel is not None and _COOKIE.match(morsel.value):
            ours.append(f"{SESSION_COOKIE}={session_digest(morsel.value)}")
        request.headers["Cookie"] = "; ".join([*others, *ours])
        request.__dict__.pop("_cookies", None)  # tornado caches the parsed cookies

    def transform_first_chunk(
        self,
        status_code: int,
        headers: tornado.httputil.HTTPHeaders,
        chunk: bytes,
        finishing: bool,
    ) -> tuple[int, tornado.httputil.HTTPHeaders, bytes]:
        nonce = secrets.token_urlsafe(18)
        if headers.get("Content-Type", "").startswith("text/html") and chunk:
            # Only the server's own page template reaches this point as HTML: user-written text
            # travels over the websocket, after the page, so it can never pick up a nonce.
            chunk = _SCRIPT_TAG.sub(f'<script nonce="{nonce}"'.encode(), chunk)
            if "Content-Length" in headers:
                headers["Content-Length"] = str(len(chunk))
        headers["Content-Security-Policy"] = content_security_policy(nonce)
        headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        if self.new_cookie is not None:
            secure = "; Secure" if self.request.protocol == "https" else ""
            headers.add(
                "Set-Cookie",
                f"{BROWSER_COOKIE}={self.new_cookie}; Path=/; HttpOnly; SameSite=Strict" + secure,
            )
        return status_code, headers, chunk
