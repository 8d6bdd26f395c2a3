"""The health score's components, defaults and bands, each defined once (the README's
"Customer health" section documents the same formulas; the SQL is in spendlens.health.repository).

Every component is normalised to 0–1, higher is healthier. As of a UTC day D, "the last N days"
are the N UTC days ending with D. A component without data for a customer is skipped and the
weights of the others are renormalised to sum to 1; a customer with no component at all (or only
zero-weighted ones) has no score.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from spendlens.models.health import HEALTH_BANDS

RECENCY_HORIZON_DAYS = 180  # recency: 0 days → 1, this many days or more → 0
TREND_WINDOW_DAYS = 90  # trends: the last 90 days against the 90 days before
LOGIN_WINDOW_DAYS = 30
LOGIN_TARGET = 12  # logins in the window that count as fully active (about 3 a week)
FEATURE_WINDOW_DAYS = 90
FEATURE_TARGET = 5  # distinct features used in the window that count as full adoption
OPEN_TICKETS_CAP = 3  # open tickets at which the component reaches 0
FAILED_PAYMENT_WINDOW_DAYS = 90
FAILED_PAYMENTS_CAP = 3  # failed payments in the window at which the component reaches 0


class Component(str, Enum):
    recency = "recency"
    purchase_frequency_trend = "purchase_frequency_trend"
    spend_trend = "spend_trend"
    login_frequency = "login_frequency"
    feature_adoption = "feature_adoption"
    open_support_tickets = "open_support_tickets"
    failed_payments = "failed_payments"


COMPONENT_NAMES = tuple(c.value for c in Component)


@dataclass(frozen=True)
class ComponentInfo:
    label: str
    value: str  # what `value` is
    normalized: str  # how it becomes 0–1
    without_data: str  # when it is skipped


COMPONENT_INFO: dict[Component, ComponentInfo] = {
    Component.recency: ComponentInfo(
        "Recency of purchase",
        "days from the last purchase (on or before D) to D",
        f"1 − min(days, {RECENCY_HORIZON_DAYS}) / {RECENCY_HORIZON_DAYS}",
        "no purchase on or before D",
    ),
    Component.purchase_frequency_trend: ComponentInfo(
        "Purchase-frequency trend",
        f"purchases in the last {TREND_WINDOW_DAYS} days minus those in the "
        f"{TREND_WINDOW_DAYS} days before",
        "recent ÷ (recent + previous): 0.5 steady, 1 all recent, 0 none recent",
        f"no purchase in the last {2 * TREND_WINDOW_DAYS} days",
    ),
    Component.spend_trend: ComponentInfo(
        "Spend trend",
        f"net spend in the last {TREND_WINDOW_DAYS} days minus the {TREND_WINDOW_DAYS} days "
        "before (each floored at 0)",
        "recent ÷ (recent + previous), each net spend floored at 0",
        "no positive net spend in either window",
    ),
    Component.login_frequency: ComponentInfo(
        "Login frequency",
        f"`login` events in the last {LOGIN_WINDOW_DAYS} days",
        f"min(logins, {LOGIN_TARGET}) / {LOGIN_TARGET}",
        "the organisation has no `login` event on or before D",
    ),
    Component.feature_adoption: ComponentInfo(
        "Feature adoption",
        f"distinct `feature` of `feature_used` events in the last {FEATURE_WINDOW_DAYS} days",
        f"min(features, {FEATURE_TARGET}) / {FEATURE_TARGET}",
        "the organisation has no `feature_used` event on or before D",
    ),
    Component.open_support_tickets: ComponentInfo(
        "Open support tickets",
        "tickets (by `ticket_id`) whose latest `support_ticket_opened` on or before D is later "
        "than their latest `support_ticket_closed` on or before D (or there is none)",
        f"1 − min(open, {OPEN_TICKETS_CAP}) / {OPEN_TICKETS_CAP}",
        "the organisation has no support-ticket event on or before D",
    ),
    Component.failed_payments: ComponentInfo(
        "Failed payments",
        f"`payment_failed` events in the last {FAILED_PAYMENT_WINDOW_DAYS} days",
        f"1 − min(failed, {FAILED_PAYMENTS_CAP}) / {FAILED_PAYMENTS_CAP}",
        "the organisation has no `payment_failed` or `payment_succeeded` event on or before D",
    ),
}

DEFAULT_WEIGHTS: dict[str, float] = {
    Component.recency.value: 0.25,
    Component.purchase_frequency_trend.value: 0.15,
    Component.spend_trend.value: 0.15,
    Component.login_frequency.value: 0.15,
    Component.feature_adoption.value: 0.10,
    Component.open_support_tickets.value: 0.10,
    Component.failed_payments.value: 0.10,
}


class Band(str, Enum):
    healthy = "healthy"
    at_risk = "at_risk"
    critical = "critical"


assert tuple(b.value for b in Band) == HEALTH_BANDS
# The lowest score of each band above critical: score ≥ healthy → healthy, ≥ at_risk → at risk,
# else critical.
DEFAULT_BANDS: dict[str, float] = {Band.healthy.value: 70.0, Band.at_risk.value: 40.0}
WEIGHT_SUM_TOLERANCE = 1e-6
# Decimals kept in what is stored: the score is exactly the sum of the rounded contributions.
CONTRIBUTION_DECIMALS = 4
NORMALIZED_DECIMALS = 6
WEIGHT_DECIMALS = 6


def band_of(score: float, bands: dict[str, float]) -> Band:
    if score >= bands[Band.healthy.value]:
        return Band.healthy
    if score >= bands[Band.at_risk.value]:
        return Band.at_risk
    return Band.critical


def components_doc() -> str:
    """The components as a Markdown table (API descriptions)."""
    lines = ["| component | value | normalised (0–1) | skipped when |", "|---|---|---|---|"]
    for component, info in COMPONENT_INFO.items():
        lines.append(
            f"| `{component.value}` | {info.value} | {info.normalized} | {info.without_data} |"
        )
    return "\n".join(lines)


FORMULA_DOC = (
    "score = 100 × Σ wᵢ′ × normalizedᵢ over the components with data, where wᵢ′ = wᵢ ÷ Σ w of "
    "those components (weights renormalised); each contribution 100 × wᵢ′ × normalizedᵢ is "
    f"rounded to {CONTRIBUTION_DECIMALS} decimals and the score is their sum. Bands: score ≥ "
    "`bands.healthy` → healthy, ≥ `bands.at_risk` → at_risk, else critical."
)
