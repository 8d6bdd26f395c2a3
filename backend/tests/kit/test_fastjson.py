"""fastjson.loads means what json.loads means, on the inputs where orjson alone would not."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest

from spendlens.kit import fastjson

SAME_AS_JSON = [
    b'{"events": [{"a": 1, "b": [1.5, -0, true, null, "\\u00e9\\u2028"]}]}',
    b'{"a": 1, "a": 2}',  # the last of repeated keys
    b"123456789012345678901234567890",  # orjson alone: a float
    b"-9223372036854775809",
    b"18446744073709551616",
    b'{"n": 1e400}',  # orjson alone: an error; json: inf
    b'"\\ud800"',  # a lone surrogate
    '["x"]'.encode("utf-16"),
    '{"x": "\u00e9"}'.encode("utf-16-le"),
]


@pytest.mark.parametrize("body", SAME_AS_JSON)
def test_loads_gives_what_json_loads_gives(body):
    assert repr(fastjson.loads(body)) == repr(json.loads(body))


def test_loads_reads_nan_and_infinity_as_json_does():
    value = fastjson.loads(b"[NaN, Infinity, -Infinity]")
    assert math.isnan(value[0]) and value[1:] == [math.inf, -math.inf]


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": }', b"[1,]", b"\xff"])
def test_loads_raises_what_json_loads_raises(body):
    with pytest.raises(ValueError) as expected:
        json.loads(body)
    with pytest.raises(type(expected.value)):
        fastjson.loads(body)


def test_dumps_is_compact_and_keeps_non_ascii():
    assert fastjson.dumps({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'
    assert fastjson.dumps({"amount": Decimal("1.50")}, default=str) == '{"amount":"1.50"}'
