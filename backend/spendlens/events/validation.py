"""Checking one sent event: its envelope (id, type, time, customer) and its type's properties.

Each event is checked on its own, so one bad event is rejected with a reason while the rest of
its batch is stored. The checks are plain Python over the parsed JSON (no model per event): a
batch of 1,000 events is checked in a few milliseconds. Properties a type does not name are kept
as sent; the named ones must have the documented shape.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from spendlens.kit.dates import EARLIEST_DAY, LATEST_DAY
from spendlens.models import rules
from spendlens.models.events import EVENT_TYPE_LENGTH

MAX_EVENTS_PER_BATCH = 1000
CUSTOM_PREFIX = "custom."
CUSTOM_TYPE = re.compile(r"^custom\.[A-Za-z0-9_.:\-]+$")
CURRENCY = re.compile(rules.CURRENCY_CODE_PATTERN)
# Serialised properties of one event, at most (a bigger one is rejected, not truncated).
MAX_PROPERTIES_BYTES = 16 * 1024
TEXT_LENGTH = 1000  # reason, feature and other free text named by a type


class Invalid(ValueError):
    """Why an event is rejected (the message is the answer's `reason`)."""


# --- property checks: each takes the value and returns it (normalised) or raises Invalid ---------


def _identifier(value: Any) -> str:
    """Another system's id (a plan, shop, payment, invoice or ticket): a non-empty string of at
    most 100 characters; a whole number is taken as its decimal text."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Invalid("must be a string")
    text = str(value).strip()
    if not text:
        raise Invalid("must not be empty")
    if len(text) > rules.EXTERNAL_ID_LENGTH:
        raise Invalid(f"must be at most {rules.EXTERNAL_ID_LENGTH} characters")
    _encodable(text)
    return text


def _encodable(text: str) -> None:
    # A lone surrogate (JSON "\ud800") is valid JSON but no text PostgreSQL can store.
    if text.isascii():
        return
    try:
        text.encode()
    except UnicodeEncodeError:
        raise Invalid("must be valid Unicode text")


def _text(limit: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid("must be a string")
        if len(value) > limit:
            raise Invalid(f"must be at most {limit} characters")
        return value

    return check


def _email(value: Any) -> str:
    text = _text(rules.EMAIL_LENGTH)(value).strip()
    if text.count("@") != 1 or text.startswith("@") or text.endswith("@"):
        raise Invalid("must be an email address")
    return text


def _amount(value: Any) -> Decimal:
    """Money: a decimal string or a number with at most two decimals, 0 ≤ amount < 10^12."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Invalid("must be a decimal number or string")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise Invalid("must be a decimal number")
    if not amount.is_finite():
        raise Invalid("must be a finite number")
    if amount != amount.quantize(Decimal("0.01")):
        raise Invalid("must have at most 2 decimals")
    if amount < 0:
        raise Invalid("must not be negative")
    if amount >= rules.MAX_AMOUNT:
        raise Invalid(f"must be less than {rules.MAX_AMOUNT:,}")
    return amount.quantize(Decimal("0.01"))


def _positive_amount(value: Any) -> Decimal:
    amount = _amount(value)
    if amount == 0:
        raise Invalid("must be greater than 0")
    return amount


def _currency(value: Any) -> str:
    if not isinstance(value, str) or not CURRENCY.match(value):
        raise Invalid("must be a 3-letter upper-case ISO 4217 code such as USD")
    return value


@dataclass(frozen=True)
class Property:
    name: str
    check: Callable[[Any], Any]
    required: bool = True


ID = _identifier
# The documented types and their properties (README, "Events"); `custom.*` types take any.
EVENT_TYPES: dict[str, tuple[Property, ...]] = {
    "signed_up": (
        Property("email", _email, required=False),
        Property("name", _text(rules.NAME_LENGTH), required=False),
    ),
    "plan_selected": (Property("plan_id", ID), Property("shop_id", ID)),
    "shop_created": (Property("shop_id", ID), Property("plan_id", ID)),
    "payment_succeeded": (
        Property("payment_id", ID),
        Property("invoice_id", ID, required=False),
        Property("amount", _positive_amount),
        Property("currency", _currency),
    ),
    "payment_failed": (
        Property("invoice_id", ID, required=False),
        Property("amount", _amount),
        Property("currency", _currency),
        Property("reason", _text(TEXT_LENGTH), required=False),
    ),
    "shop_deleted": (Property("shop_id", ID),),
    "account_deleted": (),
    "login": (),
    "feature_used": (Property("feature", _text(TEXT_LENGTH)),),
    "support_ticket_opened": (Property("ticket_id", ID),),
    "support_ticket_closed": (Property("ticket_id", ID),),
}
EVENT_TYPE_NAMES = tuple(EVENT_TYPES)


@dataclass(slots=True)
class ValidEvent:
    """An event that passed its checks: the envelope parsed, `fields` the type's named
    properties normalised (amounts as Decimal), `properties` everything as sent."""

    index: int
    event_id: str  # canonical UUID text
    type: str
    occurred_at: datetime
    customer: str
    properties: dict[str, Any]
    properties_json: str
    fields: dict[str, Any]


def metric_type(event_type: Any) -> str:
    """The type as a metrics label: documented types as they are, every custom type as
    `custom`, anything else `invalid` (labels must stay few)."""
    if isinstance(event_type, str):
        if event_type in EVENT_TYPES:
            return event_type
        if event_type.startswith(CUSTOM_PREFIX):
            return "custom"
    return "invalid"


_CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _event_id(value: Any) -> str:
    """The id in its canonical form (lower-case, hyphenated), so spellings of one UUID match."""
    if not isinstance(value, str):
        raise Invalid("event_id must be a UUID string")
    if _CANONICAL_UUID.match(value):
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise Invalid("event_id must be a UUID")


def _type(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid("type must be a non-empty string")
    if value in EVENT_TYPES:
        return value
    if len(value) <= EVENT_TYPE_LENGTH and CUSTOM_TYPE.match(value):
        return value
    raise Invalid(
        f"unknown type {value[:EVENT_TYPE_LENGTH]!r}: one of {', '.join(EVENT_TYPE_NAMES)}, or "
        f"'custom.' followed by letters, digits, '_', '.', ':' or '-' (at most "
        f"{EVENT_TYPE_LENGTH} characters)"
    )


def _occurred_at(value: Any) -> datetime:
    if not isinstance(value, str):
        raise Invalid("occurred_at must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("occurred_at must be an ISO 8601 date and time with a UTC offset")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Invalid("occurred_at must have a UTC offset (such as Z or +02:00)")
    if not EARLIEST_DAY <= moment.date() <= LATEST_DAY:
        raise Invalid(f"occurred_at must be between {EARLIEST_DAY} and {LATEST_DAY}")
    return moment


def _customer(value: Any) -> str:
    try:
        return _identifier(value)
    except Invalid as err:
        raise Invalid(f"customer {err}")


def _encode_properties(properties: dict[str, Any]) -> str:
    """The properties as compact JSON text, at most MAX_PROPERTIES_BYTES of UTF-8.

    orjson writes them (ten times faster than `json.dumps`) unless they might hold what only
    the standard library reads: orjson refuses a lone surrogate or an integer beyond 64 bits
    and writes NaN as null, so an error or a `null` in its text sends the event through
    `json.dumps`, whose verdict stands (a real null costs only the slower path)."""
    try:
        encoded = orjson.dumps(properties)
    except orjson.JSONEncodeError:
        encoded = None
    if encoded is None or b"null" in encoded:
        return _encode_properties_exactly(properties)
    if len(encoded) > MAX_PROPERTIES_BYTES:
        raise Invalid(f"properties must be at most {MAX_PROPERTIES_BYTES} bytes as JSON")
    return encoded.decode()


def _encode_properties_exactly(properties: dict[str, Any]) -> str:
    try:
        encoded = json.dumps(properties, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        size = len(encoded.encode())
    except (TypeError, ValueError):
        raise Invalid("properties must be valid JSON")
    except UnicodeEncodeError:
        raise Invalid("properties must hold valid Unicode text")
    if size > MAX_PROPERTIES_BYTES:
        raise Invalid(f"properties must be at most {MAX_PROPERTIES_BYTES} bytes as JSON")
    return encoded


_FIELDS = frozenset({"event_id", "type", "occurred_at", "customer", "properties"})
_REQUIRED = frozenset({"event_id", "type", "occurred_at", "customer"})


def validate_event(index: int, raw: Any) -> ValidEvent:
    """The event at `index` of a batch, checked; Invalid with the reason otherwise."""
    if not isinstance(raw, dict):
        raise Invalid("an event must be a JSON object")
    if not _FIELDS.issuperset(raw):
        unknown = raw.keys() - _FIELDS
        raise Invalid(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    if len(raw) < 4 or not _REQUIRED.issubset(raw):
        for field in ("event_id", "type", "occurred_at", "customer"):
            if field not in raw:
                raise Invalid(f"{field} is required")
    event_id = _event_id(raw["event_id"])
    event_type = _type(raw["type"])
    occurred_at = _occurred_at(raw["occurred_at"])
    customer = _customer(raw["customer"])
    properties = raw.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise Invalid("properties must be a JSON object")
    properties_json = _encode_properties(properties) if properties else "{}"
    fields: dict[str, Any] = {}
    for prop in EVENT_TYPES.get(event_type, ()):
        value = properties.get(prop.name)
        if value is None:
            if prop.required:
                raise Invalid(f"{event_type} needs properties.{prop.name}")
            continue
        try:
            fields[prop.name] = prop.check(value)
        except Invalid as err:
            raise Invalid(f"properties.{prop.name} {err}")
    return ValidEvent(
        index, event_id, event_type, occurred_at, customer, properties, properties_json, fields
    )
