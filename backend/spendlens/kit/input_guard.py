"""One place that refuses hostile input before any route sees it: control characters in the path,
the query, a form or a JSON body (422), JSON nested deeper than MAX_JSON_DEPTH (422), and JSON or
form bodies over MAX_BODY_BYTES (413). File uploads (multipart) are checked by the importer, cell
by cell, with the row in its report.

Control characters are C0 (except tab, line feed and carriage return, which text may hold), DEL
and C1: no name, category, description or filter needs them, and NUL cannot even be stored in a
PostgreSQL text column.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spendlens.errors import error_body
from spendlens.kit import fastjson

CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
MAX_JSON_DEPTH = 32
MAX_BODY_BYTES = 10 * 1024 * 1024
_CHECKED_BODIES = ("application/json", "application/x-www-form-urlencoded")


class InputRefused(Exception):
    def __init__(self, status: int, loc: list[Any], msg: str) -> None:
        super().__init__(msg)
        self.status, self.loc, self.msg = status, loc, msg

    def response(self) -> JSONResponse:
        if self.status == 413:
            return JSONResponse(error_body("PayloadTooLarge", self.msg), status_code=413)
        detail = [{"loc": self.loc, "msg": self.msg, "type": "value_error"}]
        return JSONResponse(error_body("ValidationError", detail), status_code=self.status)


def has_control_characters(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


def _check_text(text: str, loc: list[Any]) -> None:
    if has_control_characters(text):
        raise InputRefused(422, loc, "Control characters (such as NUL) are not allowed")


def _check_pairs(encoded: str, where: str) -> None:
    for key, value in parse_qsl(encoded, keep_blank_values=True, errors="surrogateescape"):
        _check_text(key, [where, key])
        _check_text(value, [where, key])


def check_json(value: Any) -> None:
    """Every key and string in `value`, without recursion (the depth is checked on the way)."""
    pending: list[tuple[Any, list[Any]]] = [(value, ["body"])]
    while pending:
        item, loc = pending.pop()
        if len(loc) - 1 > MAX_JSON_DEPTH:
            raise InputRefused(422, ["body"], f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, str):
            _check_text(item, loc)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, [*loc, key])
                pending.append((child, [*loc, key]))
        elif isinstance(item, list):
            pending.extend((child, [*loc, index]) for index, child in enumerate(item))


# Where a UTF-8 JSON text may hold a control character inside a string: raw DEL or C1 (raw C0
# characters are invalid JSON), or an escape that decodes to one (\u0000-\u001f, \u007f-\u009f,
# \b, \f). False alarms (an escaped backslash before "u0001") only cost the full walk.
_MAYBE_CONTROL = re.compile(
    rb"\x7f|\xc2[\x80-\x9f]|\\u00[01][0-9a-fA-F]|\\u007[fF]|\\u00[89][0-9a-fA-F]|\\[bf]"
)


def check_depth(value: Any) -> None:
    """JSON nested deeper than MAX_JSON_DEPTH refused, as check_json does, without visiting
    every string: level by level over the containers only."""
    level, depth = [value], 0
    while level:
        if depth >= MAX_JSON_DEPTH and any(level):
            raise InputRefused(422, ["body"], f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        below = []
        keep = below.append
        for item in level:
            for child in item.values() if type(item) is dict else item:
                if type(child) is dict or type(child) is list:
                    keep(child)
        level, depth = below, depth + 1


def _check_body(content_type: str, body: bytes) -> Any:
    """Refuse the body (InputRefused) or let it through; a JSON body is answered parsed (None
    when it is not JSON: the route's own validation says so)."""
    if content_type == "application/json":
        try:
            document = fastjson.loads(body)
        except RecursionError:
            raise InputRefused(422, ["body"], f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        except ValueError:
            return None
        if json.detect_encoding(body) == "utf-8" and not _MAYBE_CONTROL.search(body):
            # No string can hold a control character: only the depth is left to check (a
            # batch of 1,000 events is checked in a fraction of the full walk's time).
            if isinstance(document, (dict, list)):
                check_depth(document)
            return document
        check_json(document)
        return document
    _check_pairs(body.decode("utf-8", "surrogateescape"), "body")
    return None


class InputGuardMiddleware:
    """Pure ASGI, so streamed responses stay streamed; only checked bodies are buffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            _check_text(scope.get("path", ""), ["path"])
            _check_pairs(scope.get("query_string", b"").decode("latin-1"), "query")
            content_type = _content_type(scope)
            if content_type in _CHECKED_BODIES:
                body = await _read_body(receive)
                document = _check_body(content_type, body)
                if document is not None:
                    # Parsed once: routes of fastjson.JsonRoute take it from here.
                    scope[fastjson.PARSED_BODY] = (body, document)
                receive = _replay(body, receive)
        except InputRefused as refused:
            await refused.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _content_type(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return value.decode("latin-1").split(";")[0].strip().lower()
    return ""


async def _read_body(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise InputRefused(413, ["body"], f"The body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, original: Receive) -> Receive:
    """The body once more for the route; after it, the client's own messages (a disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()

    return receive
