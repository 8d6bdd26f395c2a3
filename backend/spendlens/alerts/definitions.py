"""What the rule kinds mean, their parameters, and the delivery timings; the API's descriptions are
generated from here so the docs and the evaluation cannot drift apart."""

from __future__ import annotations

from datetime import timedelta
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from spendlens.models.alerts import RULE_KINDS


class RuleKind(str, Enum):
    health_drop = "health_drop"
    entered_critical = "entered_critical"
    churn_probability = "churn_probability"
    spend_drop = "spend_drop"


assert tuple(k.value for k in RuleKind) == RULE_KINDS, "the enum and the table's check disagree"


class Severity(str, Enum):
    critical = "critical"
    warning = "warning"


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HealthDropParams(_Params):
    points: float = Field(gt=0, le=100, description="Fall in score points that raises the alert")


class EnteredCriticalParams(_Params):
    pass


class ChurnProbabilityParams(_Params):
    probability: float = Field(gt=0, le=1, description="Churn probability that raises the alert")


class SpendDropParams(_Params):
    days: int = Field(ge=1, le=365, description="Length N of both windows, in days")
    percent: float = Field(gt=0, le=100, description="Drop in percent that raises the alert")


PARAMS: dict[RuleKind, type[_Params]] = {
    RuleKind.health_drop: HealthDropParams,
    RuleKind.entered_critical: EnteredCriticalParams,
    RuleKind.churn_probability: ChurnProbabilityParams,
    RuleKind.spend_drop: SpendDropParams,
}


def validate_params(kind: RuleKind, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters of `kind`, checked (pydantic's ValidationError when they are wrong)."""
    return PARAMS[kind].model_validate(params).model_dump()


# The default cooldown: a customer gets at most one alert a week under one rule.
DEFAULT_COOLDOWN_MINUTES = 7 * 24 * 60

# Delivery retries: attempt k (1-based) that fails is retried after BASE × 2^(k−1), at most CAP;
# after MAX_ATTEMPTS attempts the delivery has failed for good.
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=6)
MAX_ATTEMPTS = 8


def retry_delay(attempts: int) -> timedelta:
    """How long after failed attempt number `attempts` the next one is due."""
    return min(RETRY_BASE * 2 ** (attempts - 1), RETRY_CAP)


RULES_DOC = """
**Rule kinds** (`kind`, then `params`):

- `health_drop` `{"points": X}`: the customer's health score fell by at least X points since their
  previous score (previous − latest ≥ X).
- `entered_critical` `{}`: the customer's health band is `critical`.
- `churn_probability` `{"probability": p}`: the customer's churn probability is at least p (0–1).
- `spend_drop` `{"days": N, "percent": y}`: net spend (purchases plus refunds, in the
  organisation's base currency) in the N days up to the evaluation is down by at least y% against
  the N days before: (before − last) / before × 100 ≥ y, for customers who spent more than zero in
  the N days before. The windows are (now − N days, now] and (now − 2N days, now − N days].

**One problem, one alert.** Each evaluation records per customer and rule whether the condition
holds. It raises an alert when the condition holds and: the customer has no open or acknowledged
alert under the rule; the rule's cooldown (`cooldown_minutes`, default 7 days) has passed since the
customer's last alert under it; and, if there was one, the condition has been seen *not* to hold
at an evaluation since that alert was raised (a resolved alert is raised again only after the
condition cleared).

**Escalation.** A `critical` alert still `open` (not acknowledged or resolved)
`escalation_minutes` after it was raised is sent once more, by email, to `escalation_emails`.
""".strip()

DELIVERY_DOC = f"""
**Delivery.** Each alert gets one delivery record per destination of its rule (and one per
escalation address when it escalates). A failed attempt is retried after
{int(RETRY_BASE.total_seconds() // 60)} minute × 2^(attempts − 1), at most
{int(RETRY_CAP.total_seconds() // 3600)} hours; after {MAX_ATTEMPTS} attempts it is `failed`. A
webhook answering 2xx is delivered; redirects are never followed (a failure, not retried);
an address that is private, loopback or link-local is refused (not retried) unless
`SPENDLENS_WEBHOOKS_ALLOW_PRIVATE` is set.
""".strip()
