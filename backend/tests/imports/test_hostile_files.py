"""Files built to break the reader are refused with a clear 422, never a 500: too many columns,
JSON that is not a list of objects, a broken first record, and nesting deep enough to exhaust
the parser's recursion."""

from __future__ import annotations

import json

import pytest

from spendlens.imports.files import MAX_COLUMNS, MAX_JSON_DEPTH
from tests.builders import create_org, create_user, headers_for
from tests.imports.helpers import upload


@pytest.fixture
def headers(session):
    org = create_org(session)
    return headers_for(create_user(session, org, role="analyst"))


def _refused(response, words: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "ValidationError"
    assert words in body["detail"][0]["msg"], body


def test_more_columns_than_allowed_are_refused(client, headers):
    header = ",".join(f"c{i}" for i in range(1700))
    _refused(upload(client, headers, f"{header}\n" + "1," * 1699 + "1\n"), f"at most {MAX_COLUMNS}")


def test_as_many_columns_as_allowed_get_to_the_format_check(client, headers):
    header = ",".join(f"c{i}" for i in range(MAX_COLUMNS))
    response = upload(client, headers, f"{header}\n" + ",".join("1" * MAX_COLUMNS) + "\n")
    assert response.status_code == 422
    assert "at most" not in response.text  # refused for its missing columns, not its width


@pytest.mark.parametrize(
    "content,words",
    [
        ("[1, 2]", "not an object"),
        ('[{"customer_id": "C1", }]', "invalid JSON"),
        ('[{"customer_id": "C1"} {"customer_id": "C2"}]', "expected ','"),
    ],
)
def test_json_that_is_not_a_list_of_objects_is_refused(client, headers, content, words):
    response = upload(client, headers, content, filename="t.json", format="json")
    _refused(response, words)


def test_deep_nesting_is_refused_not_a_crash(client, headers):
    content = '[{"customer_id": "C1", "note": ' + "[" * 100_000 + "]" * 100_000 + "}]"
    response = upload(client, headers, content, filename="t.json", format="json")
    _refused(response, "nested deeper")


def test_nesting_a_little_past_the_limit_is_refused_too(client, headers):
    value: object = "x"
    for _ in range(MAX_JSON_DEPTH):
        value = [value]
    content = json.dumps([{"customer_id": "C1", "note": value}])
    response = upload(client, headers, content, filename="t.json", format="json")
    _refused(response, f"nested deeper than {MAX_JSON_DEPTH}")
