"""How long the dashboard server keeps a browser session whose tab has closed.

Each such session holds a whole App (stores, pages, Bokeh models, ~7,600 Python objects); the
server's memory follows how many are waiting to be discarded (bench/dashboard_memory_bench.py).
"""

from __future__ import annotations

from spendlens_dashboard.server import _server_kwargs

# BokehJS retries a lost connection 5 times, after 0, 2, 4, 8 and 16 s, then gives up.
BROWSER_RECONNECT_WINDOW_MS = 30_000


def test_closed_session_is_discarded_within_a_minute():
    kwargs = _server_kwargs("127.0.0.1", 5006, "http://127.0.0.1:8000")
    latest = kwargs["unused_session_lifetime_milliseconds"]
    latest += kwargs["check_unused_sessions_milliseconds"]
    assert latest <= 60_000


def test_closed_session_outlives_the_browsers_reconnect_attempts():
    kwargs = _server_kwargs("127.0.0.1", 5006, "http://127.0.0.1:8000")
    assert kwargs["unused_session_lifetime_milliseconds"] > BROWSER_RECONNECT_WINDOW_MS
