"""Serving the dashboard: `serve()` blocks (the CLI); `start_in_thread()` is for tests and benches.

Every browser session gets a fresh App. Bokeh, Panel and template resources are served by this
server itself, so the page needs no internet access; every response carries the security headers
of security.py.
"""

from __future__ import annotations

import os
from typing import Protocol

import panel as pn

from spendlens_dashboard import background
from spendlens_dashboard.config import DashboardSettings, get_settings
from spendlens_dashboard.export import DOWNLOAD_KEYS, ROUTE, ExportHandler
from spendlens_dashboard.security import SecurityHeaders
from spendlens_dashboard.sessions import DASHBOARD_SESSIONS, SESSION_ROUTE, SessionCookieHandler


class Stoppable(Protocol):
    def stop(self) -> None: ...


def _settings_for(api_url: str | None) -> DashboardSettings:
    settings = get_settings()
    if api_url:
        settings = settings.model_copy(update={"api_url": api_url})
    return settings


def _origins(host: str, port: int) -> list[str]:
    origins = {f"{host}:{port}"}
    if host in ("127.0.0.1", "localhost", "0.0.0.0"):
        origins |= {f"127.0.0.1:{port}", f"localhost:{port}"}
    extra = os.environ.get("SPENDLENS_DASHBOARD_ORIGINS", "")
    origins |= {o.strip() for o in extra.split(",") if o.strip()}
    return sorted(origins)


def _server_kwargs(host: str, port: int, api_url: str | None) -> dict:
    settings = _settings_for(api_url)
    # Imported here, before any session exists: the module calls `pn.extension(...)`, and run
    # inside the first browser session that would configure (notifications, design) that
    # session only, and every later visitor would get no toasts.
    from spendlens_dashboard.app import create_app

    def session_app():
        return create_app(settings)

    # API calls run on worker threads (see background.py); browser events stay in order.
    background.configure(settings.worker_threads)
    # Everything (Bokeh, Panel, Bootstrap, Tabulator) from this server, never from a CDN.
    os.environ.setdefault("BOKEH_RESOURCES", "server")
    return dict(
        panels={"/": session_app},
        port=port,
        address=host,
        websocket_origin=_origins(host, port),
        show=False,
        title="Spendlens",
        extra_patterns=[
            (ROUTE, ExportHandler, {"keys": DOWNLOAD_KEYS}),
            # Logging in gives the browser its session cookie here (see sessions.py).
            (SESSION_ROUTE, SessionCookieHandler, {"sessions": DASHBOARD_SESSIONS}),
        ],
        # Passed on to tornado's Application: CSP, no framing, nosniff, the browser cookie.
        transforms=[SecurityHeaders],
        liveness=True,
        # serve() prints the one start-up banner (with the API's address); Panel's own
        # "Launching server at …" would be a second.
        verbose=False,
        # A closed tab's session (its App, stores and Bokeh models) is kept until discarded; the
        # browser stops trying to reconnect after ~30 s (BokehJS: 5 attempts, 0+2+4+8+16 s), so
        # keeping it longer only raises the server's memory high-water mark
        # (bench/dashboard_memory_bench.py: 2 minutes held 16 dead sessions, +15% RSS).
        check_unused_sessions_milliseconds=10_000,
        unused_session_lifetime_milliseconds=40_000,
    )


def serve(host: str = "127.0.0.1", port: int = 5006, api_url: str | None = None) -> None:
    """Serve the dashboard until interrupted; the API address defaults to SPENDLENS_API_URL."""
    kwargs = _server_kwargs(host, port, api_url)
    print(f"Dashboard on http://{host}:{port}  (API: {_settings_for(api_url).api_url})", flush=True)
    pn.serve(**kwargs, start=True, threaded=False)


def start_in_thread(
    host: str = "127.0.0.1", port: int = 5006, api_url: str | None = None
) -> Stoppable:
    """Start the dashboard on a background thread; returns the thread (`.stop()` ends it)."""
    kwargs = _server_kwargs(host, port, api_url)
    return pn.serve(**kwargs, start=True, threaded=True)


def main() -> None:  # pragma: no cover - `python -m spendlens_dashboard.server`
    import argparse

    parser = argparse.ArgumentParser(description="Serve the Spendlens dashboard")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5006)
    parser.add_argument("--api-url", default=None)
    args = parser.parse_args()
    serve(args.host, args.port, args.api_url)


if __name__ == "__main__":  # pragma: no cover
    main()
