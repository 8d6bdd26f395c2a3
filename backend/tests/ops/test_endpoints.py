"""Operations: liveness, readiness that follows the database, Prometheus, request ids, CORS,
and an OpenAPI document in which every route is documented."""

from __future__ import annotations

import socket
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from spendlens.db import get_engine, make_engine


class TcpProxy:
    """A loopback TCP forwarder that can be switched off and on, standing between the API and
    PostgreSQL to make the database unreachable and bring it back."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.enabled = True
        self.open_sockets: list[socket.socket] = []
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def _accept(self) -> None:
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            if not self.enabled:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.open_sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and break the open ones, like a database going away."""
        self.enabled = False
        for s in self.open_sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.open_sockets.clear()

    def restore(self) -> None:
        self.enabled = True

    def close(self) -> None:
        self.stopping = True
        self.cut()
        self.listener.close()


class TestHealth:
    def test_livez(self, client):
        assert client.get("/livez").json() == {"status": "ok"}

    def test_readyz_ok_with_database(self, client):
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["database"] == "ok"

    def test_readyz_503_while_database_unreachable_then_recovers(self, app, database_url):
        url = make_url(database_url)
        if not url.host:
            pytest.skip("test database is on a Unix socket; the proxy needs TCP")
        proxy = TcpProxy(url.host, url.port or 5432)
        engine = make_engine(url.set(host="127.0.0.1", port=proxy.port), pool_size=1)
        app.dependency_overrides[get_engine] = lambda: engine
        try:
            with TestClient(app) as client:
                assert client.get("/readyz").status_code == 200
                proxy.cut()
                down = client.get("/readyz")
                assert down.status_code == 503
                assert down.json() == {
                    "error": "ServiceUnavailable",
                    "detail": "Database unreachable",
                }
                proxy.restore()
                # No restart: the pool replaces its broken connection by itself.
                assert client.get("/readyz").status_code == 200
        finally:
            engine.dispose()
            proxy.close()


class TestObservability:
    def test_prometheus_metrics_count_requests_by_route(self, client, auth_headers):
        client.get("/api/v1/transactions", headers=auth_headers("viewer@acme.example"))
        text = client.get("/metrics").text
        assert "spendlens_http_requests_total" in text
        assert 'route="/api/v1/transactions"' in text
        assert "spendlens_http_request_duration_seconds_bucket" in text

    def test_request_id_is_echoed_or_generated(self, client):
        echoed = client.get("/livez", headers={"X-Request-ID": "abc-123"})
        assert echoed.headers["x-request-id"] == "abc-123"
        generated = client.get("/livez", headers={"X-Request-ID": "bad id with spaces!"})
        assert len(generated.headers["x-request-id"]) == 32

    def test_access_log_is_json_with_request_id(self, client, capsys):
        import json
        import logging

        from spendlens.ops.logging import JsonFormatter

        records: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = records.append
        logger = logging.getLogger("spendlens.access")
        logger.addHandler(handler)
        try:
            client.get("/livez", headers={"X-Request-ID": "log-me"})
        finally:
            logger.removeHandler(handler)
        line = json.loads(JsonFormatter().format(records[-1]))
        assert line["msg"] == "request"
        assert line["path"] == "/livez" and line["status"] == 200
        assert "duration_ms" in line

    def test_cors_allows_configured_origin_only(self, client):
        allowed = client.options(
            "/api/v1/transactions",
            headers={"Origin": "http://127.0.0.1:5006", "Access-Control-Request-Method": "GET"},
        )
        assert allowed.headers["access-control-allow-origin"] == "http://127.0.0.1:5006"
        denied = client.options(
            "/api/v1/transactions",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in denied.headers

    def test_unknown_path_is_json_404(self, client):
        response = client.get("/api/v1/nope")
        assert response.status_code == 404
        assert response.json()["error"] == "NotFound"


class TestOpenApi:
    def test_every_route_documented_with_its_error_statuses(self, client):
        spec = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200
        for path, operations in spec["paths"].items():
            for method, op in operations.items():
                assert op.get("summary") and op.get("description"), f"{method} {path}"
                assert ":" in op["operationId"]
                if path.startswith("/api/v1") and path not in (
                    "/api/v1/auth/login",
                    "/api/v1/auth/signup",
                ):
                    assert "401" in op["responses"], f"{method} {path} lacks 401"
                if op.get("parameters") or op.get("requestBody"):
                    assert "422" in op["responses"], f"{method} {path} lacks 422"
