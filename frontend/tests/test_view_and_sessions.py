"""The address-bar view (state/view.py) and the dashboard session keys (sessions.py), without a
browser: what a URL restores, what a bad URL falls back to, who may redeem a ticket."""

from __future__ import annotations

from datetime import date

import tornado.httputil

from spendlens_dashboard.security import (
    BROWSER_COOKIE,
    SESSION_COOKIE,
    SecurityHeaders,
    session_digest,
)
from spendlens_dashboard.sessions import DashboardSessions
from spendlens_dashboard.state import Filters
from spendlens_dashboard.state.view import parse_search, restore_filters, view_search

TODAY = date(2026, 6, 30)


class TestViewSearch:
    def test_a_view_round_trips_through_its_query_string(self):
        filters = Filters(today=TODAY)
        filters.param.update(
            preset="custom",
            start_date=date(2026, 3, 1),
            end_date=date(2026, 3, 31),
            categories=["Travel", "Food & Drink"],
            merchants=["Café Zoë"],
            min_amount=10.5,
        )
        search = view_search("transactions", filters, [("q", "hotel")])
        again = Filters(today=TODAY)
        query = parse_search(search)
        restore_filters(again, query)
        assert query["page"] == ["transactions"] and query["q"] == ["hotel"]
        assert again.query_params() == filters.query_params()
        assert again.preset == "custom"

    def test_defaults_are_left_out(self):
        assert view_search("overview", Filters(today=TODAY), []) == "?page=overview"

    def test_a_malformed_url_falls_back_to_the_defaults(self):
        filters = Filters(today=TODAY)
        filters.categories = ["Travel"]
        query = parse_search(
            "?range=forever&from=2026-13-01&to=x&min=abc&max=nan&category=&merchant=A&merchant=A"
        )
        restore_filters(filters, query)
        assert filters.preset == "last_30_days"
        assert filters.categories == []  # absent from the URL: cleared
        assert filters.merchants == ["A"]
        assert filters.min_amount is None and filters.max_amount is None

    def test_a_custom_range_without_both_days_is_the_default_range(self):
        filters = Filters(today=TODAY)
        restore_filters(filters, parse_search("?range=custom&from=2026-01-01"))
        assert filters.preset == "last_30_days"
        restore_filters(filters, parse_search("?range=custom&from=2026-02-01&to=2026-01-01"))
        assert filters.period() == (date(2026, 1, 1), date(2026, 2, 1))


class TestDashboardSessions:
    def test_a_ticket_is_redeemed_once_by_its_browser(self):
        sessions = DashboardSessions()
        ticket = sessions.issue_ticket("tok", "browser-a", lifetime=600)
        assert sessions.redeem(ticket, "browser-b") is None  # another browser: refused…
        assert sessions.redeem(ticket, "browser-a") is None  # … and the ticket is spent
        ticket = sessions.issue_ticket("tok", "browser-a", lifetime=600)
        key = sessions.redeem(ticket, "browser-a")
        assert key and sessions.redeem(ticket, "browser-a") is None
        assert sessions.token_for(session_digest(key), "browser-a") == "tok"
        assert sessions.token_for(session_digest(key), "browser-b") is None
        assert sessions.token_for(key, "browser-a") is None  # only the digest is looked up

    def test_logout_ends_every_session_of_the_token(self):
        sessions = DashboardSessions()
        key = sessions.redeem(sessions.issue_ticket("tok", "b", lifetime=600), "b")
        other = sessions.redeem(sessions.issue_ticket("other", "b", lifetime=600), "b")
        sessions.end("tok")
        assert sessions.token_for(session_digest(key), "b") is None
        assert sessions.token_for(session_digest(other), "b") == "other"

    def test_a_session_ends_with_its_token(self):
        now = [1000.0]
        sessions = DashboardSessions(clock=lambda: now[0])
        key = sessions.redeem(sessions.issue_ticket("tok", "b", lifetime=600), "b")
        now[0] += 599
        assert sessions.token_for(session_digest(key), "b") == "tok"
        now[0] += 2
        assert sessions.token_for(session_digest(key), "b") is None
        late = sessions.issue_ticket("tok", "b", lifetime=600)
        now[0] += 121  # a ticket is for the page that got it, not for later
        assert sessions.redeem(late, "b") is None

    def test_no_browser_cookie_no_ticket(self):
        assert DashboardSessions().issue_ticket("tok", None, lifetime=600) is None


def test_handlers_and_pages_see_only_a_digest_of_the_session_key():
    key = "k" * 43
    request = tornado.httputil.HTTPServerRequest(
        method="GET",
        uri="/",
        headers=tornado.httputil.HTTPHeaders(
            {"Cookie": f"{BROWSER_COOKIE}={'b' * 43}; {SESSION_COOKIE}={key}; other=1"}
        ),
    )
    SecurityHeaders(request)
    assert request.cookies[SESSION_COOKIE].value == session_digest(key)
    assert key not in request.headers["Cookie"]
    assert request.cookies["other"].value == "1"
