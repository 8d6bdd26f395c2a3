"""Fixtures of the alert tests: a real local webhook receiver (http.server in a thread) that checks
every signature itself, a real local SMTP server (aiosmtpd), and settings that deliver to them."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Connection

from spendlens.alerts.schemas import RuleIn
from spendlens.alerts.service import create_rule
from spendlens.config import Settings, get_settings
from spendlens.tenancy import set_org
from tests.builders import create_customer, create_org, create_user, headers_for
from tests.conftest import as_app_role

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Answers `fail_first` requests with 500, then 200. A request is accepted only when its
    signature is HMAC-SHA256(secret, timestamp + "." + body) and the timestamp is within 5
    minutes (a replay is rejected with 400)."""

    port: int = 0
    secrets: dict[str, str] = field(default_factory=dict)  # path → secret
    fail_first: int = 0
    received: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def check(self, path: str, headers: dict[str, str], body: bytes) -> bool:
        secret = self.secrets.get(path)
        timestamp = headers.get("x-spendlens-timestamp", "")
        signature = headers.get("x-spendlens-signature", "")
        if secret is None or not timestamp.isdigit():
            return False
        if abs(time.time() - int(timestamp)) > 300:
            return False
        expected = hmac.new(
            secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(signature, f"v1={expected}")

    def delivered(self) -> list[Received]:
        """The requests answered 2xx."""
        return [r for r, status in zip(self.received, self.answered) if status == 200]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    state = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            valid = state.check(self.path, headers, body)
            state.received.append(Received(self.path, headers, body, valid))
            if not valid:
                status = 400
            elif state.fail_first > 0:
                state.fail_first -= 1
                status = 500
            else:
                status = 200
            state.answered.append(status)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


class Inbox:
    """aiosmtpd handler keeping every message it is sent."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Any]:
        return [m for m in self.messages if address in m.rcpt_tos]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def inbox(smtp_server) -> Inbox:
    return smtp_server[0]


@pytest.fixture
def delivery_settings(smtp_server) -> Settings:
    """What the worker's settings would be with SPENDLENS_WEBHOOKS_ALLOW_PRIVATE=true (the
    receiver is on 127.0.0.1) and SMTP pointed at the local server."""
    return get_settings().model_copy(
        update={
            "webhooks_allow_private": True,
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_server[1],
            "smtp_starttls": False,
            "smtp_from": "alerts@spendlens.test",
        }
    )


@dataclass
class Shop:
    org: Any
    admin: Any
    analyst: Any
    viewer: Any

    def headers(self, role: str) -> dict[str, str]:
        return headers_for(getattr(self, role))


@pytest.fixture
def shop(session) -> Shop:
    org = create_org(session)
    return Shop(
        org,
        create_user(session, org, role="admin"),
        create_user(session, org, role="analyst"),
        create_user(session, org, role="viewer"),
    )


@pytest.fixture
def customer(session, shop):
    return create_customer(session, shop.org, name="Ada Lovelace")


@pytest.fixture
def as_app(connection: Connection, app_role: str):
    """Run a block as the application role in one organisation, as the worker does."""

    def enter(org_id: int):
        class Block:
            def __enter__(self) -> Connection:
                self.context = as_app_role(connection, app_role)
                conn = self.context.__enter__()
                set_org(conn, org_id)
                return conn

            def __exit__(self, *exc: Any) -> None:
                self.context.__exit__(*exc)

        return Block()

    return enter


def make_rule(session, shop: Shop, settings: Settings | None = None, **overrides: Any):
    values: dict[str, Any] = {
        "name": "Health fell",
        "kind": "health_drop",
        "params": {"points": 20},
        "severity": "warning",
    }
    values.update(overrides)
    rule = create_rule(session, shop.org.id, shop.admin, RuleIn.model_validate(values), settings)
    session.flush()
    return rule


@dataclass
class RedirectingReceiver:
    url: str = ""
    hits: int = 0


@pytest.fixture
def redirecting_receiver() -> Iterator[RedirectingReceiver]:
    """Answers every POST with a redirect to the cloud metadata address."""
    state = RedirectingReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.hits += 1
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/redirect"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()
