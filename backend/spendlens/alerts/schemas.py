"""Bodies of the /alerts routes."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from spendlens.alerts.definitions import (
    DEFAULT_COOLDOWN_MINUTES,
    RuleKind,
    Severity,
    validate_params,
)
from spendlens.kit.dates import UtcDatetime

MAX_DESTINATIONS = 10
MAX_URL_LENGTH = 2000


class AlertState(str, Enum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


def _webhook_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; sign with the secret instead")
    try:
        parts.port
    except ValueError:
        raise ValueError("has an invalid port")
    return value


WebhookUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_URL_LENGTH),
    AfterValidator(_webhook_url),
]
Secret = Annotated[str, StringConstraints(min_length=16, max_length=200, pattern=r"^[!-~]+$")]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl
    secret: Secret | None = Field(
        default=None,
        description=(
            "The signing secret (16–200 printable characters). Omitted: a webhook already on the "
            "rule with the same URL keeps its secret, a new one gets a generated secret, shown "
            "once in the response"
        ),
    )


class RuleIn(BaseModel):
    """A rule as created or replaced (PUT sends the whole rule)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    kind: RuleKind
    params: dict[str, Any] = Field(default_factory=dict, description="Per kind: see above")
    severity: Severity = Severity.warning
    enabled: bool = True
    cooldown_minutes: int = Field(default=DEFAULT_COOLDOWN_MINUTES, ge=0, le=366 * 24 * 60)
    escalation_minutes: int | None = Field(
        default=None,
        ge=1,
        le=30 * 24 * 60,
        description="Critical rules: resend an alert not acknowledged after this many minutes",
    )
    escalation_emails: list[EmailStr] = Field(default_factory=list, max_length=MAX_DESTINATIONS)
    webhooks: list[WebhookIn] = Field(default_factory=list, max_length=MAX_DESTINATIONS)
    emails: list[EmailStr] = Field(default_factory=list, max_length=MAX_DESTINATIONS)

    @model_validator(mode="after")
    def _check(self) -> "RuleIn":
        try:
            self.params = validate_params(self.kind, self.params)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ValueError(f"params of a {self.kind.value} rule: {problems}") from None
        if (self.escalation_minutes is None) != (not self.escalation_emails):
            raise ValueError("escalation_minutes and escalation_emails go together")
        if self.escalation_minutes is not None and self.severity != Severity.critical:
            raise ValueError("only critical rules escalate")
        urls = [w.url for w in self.webhooks]
        if len(set(urls)) != len(urls):
            raise ValueError("a webhook URL is listed twice")
        self.emails = list(dict.fromkeys(e.lower() for e in self.emails))
        self.escalation_emails = list(dict.fromkeys(e.lower() for e in self.escalation_emails))
        return self


class WebhookOut(BaseModel):
    id: int
    url: str
    secret: str | None = Field(
        description="The signing secret, only in the response that generated it; null afterwards"
    )


class RuleOut(BaseModel):
    id: int
    name: str
    kind: RuleKind
    params: dict[str, Any]
    severity: Severity
    enabled: bool
    cooldown_minutes: int
    escalation_minutes: int | None
    escalation_emails: list[str]
    webhooks: list[WebhookOut]
    emails: list[str]
    created_at: UtcDatetime
    updated_at: UtcDatetime


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    rule_id: int
    rule_name: str
    customer_id: int
    customer_name: str
    kind: RuleKind
    severity: Severity
    state: AlertState
    message: str
    details: dict[str, Any] = Field(description="The signal values that crossed the rule")
    raised_at: UtcDatetime
    acknowledged_at: UtcDatetime | None
    acknowledged_by: int | None
    resolved_at: UtcDatetime | None
    resolved_by: int | None
    escalated_at: UtcDatetime | None


class AlertFeed(BaseModel):
    items: list[AlertOut] = Field(description="Alerts raised after `after`, oldest first")
    last_id: int | None = Field(
        description="The id to pass as `after` next time (`after` itself when nothing is new)"
    )


class DeliveryAttempt(BaseModel):
    at: UtcDatetime
    status: int | None = Field(description="HTTP status or SMTP reply code, when there was one")
    error: str | None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    alert_id: int
    purpose: str = Field(description="`alert`, or `escalation` for the escalation emails")
    channel: str = Field(description="`webhook` or `email`")
    target: str = Field(description="The webhook URL or the email address")
    state: str = Field(description="`pending`, `delivered` or `failed`")
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: UtcDatetime | None = Field(description="When the next retry is due")
    delivered_at: UtcDatetime | None
    attempt_log: list[DeliveryAttempt]
    created_at: UtcDatetime
