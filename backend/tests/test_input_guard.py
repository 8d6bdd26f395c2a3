"""Hostile input is refused in one place with a 4xx and the error shape, never a 500: control
characters anywhere a caller can write text (path, query, form, JSON keys and strings), JSON
nested deeper than the limit, and oversized bodies. Ordinary text, including tabs and line
breaks in a description, still goes through."""

from __future__ import annotations

import json

import pytest

from spendlens.kit.input_guard import MAX_BODY_BYTES, MAX_JSON_DEPTH, InputRefused, _check_body

NUL, BELL, C1 = "\x00", "\x07", "\x85"


def _refused(response, *loc) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "ValidationError"
    assert body["detail"][0]["loc"][: len(loc)] == list(loc)


class TestQuery:
    @pytest.mark.parametrize("name", ["q", "category", "merchant"])
    @pytest.mark.parametrize("bad", [NUL, BELL, C1])
    def test_control_characters_in_filters_are_422(self, client, auth_headers, name, bad):
        response = client.get(
            "/api/v1/transactions",
            params={name: f"a{bad}b"},
            headers=auth_headers("viewer@acme.example"),
        )
        _refused(response, "query", name)

    def test_streamed_export_refuses_before_it_starts(self, client, auth_headers):
        response = client.get(
            "/api/v1/transactions/export.csv",
            params={"q": NUL},
            headers=auth_headers("viewer@acme.example"),
        )
        _refused(response, "query", "q")

    def test_ordinary_text_passes(self, client, auth_headers):
        response = client.get(
            "/api/v1/transactions",
            params={"q": "Café «Zürich» 東京"},
            headers=auth_headers("viewer@acme.example"),
        )
        assert response.status_code == 200


class TestForm:
    def test_nul_in_the_login_username_is_422(self, client):
        response = client.post(
            "/api/v1/auth/login", data={"username": f"admin{NUL}@acme.example", "password": "x"}
        )
        _refused(response, "body", "username")


class TestJson:
    def test_control_characters_in_a_string_are_422_with_where(self, client, auth_headers):
        response = client.post(
            "/api/v1/customers",
            json={"name": f"Bob{NUL}", "external_id": "X-1"},
            headers=auth_headers("analyst@acme.example"),
        )
        _refused(response, "body", "name")

    def test_control_characters_in_a_key_are_422(self, client, auth_headers):
        response = client.post(
            "/api/v1/customers",
            json={"name": "Bob", f"ex{BELL}tra": 1},
            headers=auth_headers("analyst@acme.example"),
        )
        _refused(response, "body")

    def test_line_breaks_and_tabs_in_text_are_kept(self, client, auth_headers):
        response = client.post(
            "/api/v1/customers",
            json={"name": "Bob\tSmith", "external_id": "GUARD-1"},
            headers=auth_headers("analyst@acme.example"),
        )
        assert response.status_code == 201, response.text
        assert response.json()["name"] == "Bob\tSmith"

    def test_deep_nesting_is_422_not_a_crash(self, client, auth_headers):
        body = '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"
        response = client.post(
            "/api/v1/customers",
            content=body,
            headers={**auth_headers("analyst@acme.example"), "Content-Type": "application/json"},
        )
        _refused(response, "body")
        assert "nested deeper" in response.json()["detail"][0]["msg"]

    def test_nesting_just_past_the_limit_is_422(self, client, auth_headers):
        value: object = 1
        for _ in range(MAX_JSON_DEPTH + 1):
            value = [value]
        response = client.post(
            "/api/v1/customers",
            content=json.dumps({"name": value}),
            headers={**auth_headers("analyst@acme.example"), "Content-Type": "application/json"},
        )
        _refused(response, "body")

    def test_an_oversized_body_is_413(self, client, auth_headers):
        response = client.post(
            "/api/v1/customers",
            content=b'{"name": "' + b"a" * (MAX_BODY_BYTES + 1) + b'"}',
            headers={**auth_headers("analyst@acme.example"), "Content-Type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json()["error"] == "PayloadTooLarge"


def test_control_characters_in_the_path_are_422(client, auth_headers):
    response = client.get("/api/v1/customers/1%00", headers=auth_headers("viewer@acme.example"))
    _refused(response, "path")


def _list_routes() -> list[str]:
    from spendlens.main import create_app

    document = create_app().openapi()
    return sorted(
        path
        for path, operations in document["paths"].items()
        if any(p["name"] == "skip" for p in operations.get("get", {}).get("parameters", []))
    )


@pytest.mark.parametrize("path", _list_routes())
@pytest.mark.parametrize("skip", [2**63, 2**64 + 5, 1_000_000_001])
def test_skip_past_its_bound_is_422_on_every_list(client, auth_headers, path, skip):
    url = path.replace("{fit_id}", "1")
    response = client.get(url, params={"skip": skip}, headers=auth_headers("admin@acme.example"))
    _refused(response, "query", "skip")


def test_there_are_lists_to_check():
    assert len(_list_routes()) >= 9


class TestJsonBodyCheck:
    """The body check skips the string-by-string walk only when no string can hold a control
    character; it refuses exactly what the walk refuses."""

    @pytest.mark.parametrize(
        "body",
        [
            '{"a": "x\\u0001"}'.encode(),
            '{"a": "\\b"}'.encode(),
            '{"a": "\\f"}'.encode(),
            '{"a": "\\u007F"}'.encode(),
            '{"a": "\\u0085"}'.encode(),
            '{"a": "\x7f"}'.encode(),
            '{"a": "\u0085"}'.encode(),
            '{"k\\u0007": 1}'.encode(),
            '{"a": ["ok", {"b": "\\u001b"}]}'.encode(),
            '{"a": "x\\u0001"}'.encode("utf-16"),
        ],
    )
    def test_control_characters_are_refused_however_written(self, body):
        with pytest.raises(InputRefused):
            _check_body("application/json", body)

    @pytest.mark.parametrize(
        "body",
        [
            '{"a": "tab\\t, new line\\n, return\\r, é \\u00e9, \\\\b \\\\u0001"}'.encode(),
            '{"a": "x\\u0009\\u000a"}'.encode(),
        ],
    )
    def test_text_without_control_characters_passes(self, body):
        _check_body("application/json", body)

    def test_the_depth_limit_holds_on_both_paths(self):
        # The second leaf is the text backslash-u0001: no control character, but the full walk.
        for escape in ("", r"\u0001"):
            at_limit: object = escape
            for _ in range(MAX_JSON_DEPTH):
                at_limit = [at_limit]
            _check_body("application/json", json.dumps(at_limit).encode())
            with pytest.raises(InputRefused):
                _check_body("application/json", json.dumps([at_limit]).encode())
            empty_at_limit: object = []
            for _ in range(MAX_JSON_DEPTH):
                empty_at_limit = [empty_at_limit]
            _check_body("application/json", json.dumps(empty_at_limit).encode())
