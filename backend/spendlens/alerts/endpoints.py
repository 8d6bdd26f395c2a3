"""HTTP routes of /api/v1/alerts and /api/v1/alerts/rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from spendlens.alerts import service
from spendlens.alerts.definitions import DELIVERY_DOC, RULES_DOC, Severity
from spendlens.alerts.schemas import (
    AlertFeed,
    AlertOut,
    AlertState,
    DeliveryOut,
    RuleIn,
    RuleOut,
)
from spendlens.auth.dependencies import (
    AdminUser,
    AnalystUser,
    CurrentUser,
    OrgScope,
    SettingsDep,
)
from spendlens.db import SessionDep
from spendlens.errors import error_responses
from spendlens.jobs.schemas import JobOut
from spendlens.kit.pagination import MAX_LIMIT, Page, PaginationDep
from spendlens.models import Job

router = APIRouter(prefix="/alerts", tags=["alerts"])

MAX_ID = 2**63 - 1


def _now() -> datetime:
    return datetime.now(UTC)


# --- rules (declared before /{alert_id} so that /rules is not taken for an id) --------------------


@router.get(
    "/rules",
    response_model=Page[RuleOut],
    responses=error_responses(401, 422),
    description=f"The organisation's alert rules, oldest first. Any role.\n\n{RULES_DOC}",
)
def list_alert_rules(
    user: CurrentUser, org_id: OrgScope, session: SessionDep, page: PaginationDep
) -> Page[RuleOut]:
    """The organisation's alert rules."""
    items, total = service.list_rules(session, org_id, skip=page.skip, limit=page.limit)
    return Page(items=items, total=total, skip=page.skip, limit=page.limit)


@router.post(
    "/rules",
    response_model=RuleOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422),
    description=(
        "Create a rule (admins). Webhooks without a `secret` get a generated one, shown only in "
        "this response: store it to verify signatures. A webhook whose host is an IP address "
        "that is private, loopback or link-local is refused (422) unless "
        f"`SPENDLENS_WEBHOOKS_ALLOW_PRIVATE` is set.\n\n{RULES_DOC}\n\n{DELIVERY_DOC}"
    ),
)
def create_alert_rule(
    body: RuleIn,
    user: AdminUser,
    org_id: OrgScope,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> RuleOut:
    """Create an alert rule (admins)."""
    rule = service.create_rule(session, org_id, user, body, settings)
    response.headers["Location"] = f"/api/v1/alerts/rules/{rule.id}"
    return rule


@router.get("/rules/{rule_id}", response_model=RuleOut, responses=error_responses(401, 404, 422))
def get_alert_rule(
    rule_id: int, user: CurrentUser, org_id: OrgScope, session: SessionDep
) -> RuleOut:
    """One alert rule with its destinations (webhook secrets are never shown again)."""
    return service.get_rule(session, org_id, rule_id)


@router.put(
    "/rules/{rule_id}",
    response_model=RuleOut,
    responses=error_responses(401, 403, 404, 409, 422),
    description=(
        "Replace a rule (admins): send the whole rule. A webhook whose URL the rule already has "
        "keeps its secret unless `secret` is given; a new URL without one gets a generated "
        "secret, shown only in this response; destinations left out are removed (their pending "
        "deliveries then fail). Existing alerts keep the severity they were raised with."
    ),
)
def replace_alert_rule(
    rule_id: int,
    body: RuleIn,
    user: AdminUser,
    org_id: OrgScope,
    session: SessionDep,
    settings: SettingsDep,
) -> RuleOut:
    """Replace an alert rule (admins)."""
    return service.replace_rule(session, org_id, rule_id, body, settings)


@router.delete(
    "/rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422),
    description="Delete a rule with its alerts and their delivery records (admins).",
)
def delete_alert_rule(
    rule_id: int, user: AdminUser, org_id: OrgScope, session: SessionDep
) -> Response:
    """Delete an alert rule (admins)."""
    service.delete_rule(session, org_id, rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- alerts -------------------------------------------------------------------------------------


@router.get(
    "",
    response_model=Page[AlertOut],
    responses=error_responses(401, 422),
    description=(
        "Alerts, newest first, filtered by `state`, `severity` (repeat either for several) and "
        f"`customer_id`. Any role.\n\n{RULES_DOC}"
    ),
)
def list_alerts(
    user: CurrentUser,
    org_id: OrgScope,
    session: SessionDep,
    page: PaginationDep,
    state: Annotated[
        list[AlertState] | None, Query(description="open, acknowledged, resolved")
    ] = None,
    severity: Annotated[list[Severity] | None, Query(description="critical, warning")] = None,
    customer_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="One customer's alerts")
    ] = None,
) -> Page[AlertOut]:
    """Alerts, newest first, with filters."""
    items, total = service.list_alerts(
        session,
        org_id,
        states=list(dict.fromkeys(state or ())),
        severities=[s.value for s in dict.fromkeys(severity or ())],
        customer_id=customer_id,
        skip=page.skip,
        limit=page.limit,
    )
    return Page(items=items, total=total, skip=page.skip, limit=page.limit)


@router.get(
    "/feed",
    response_model=AlertFeed,
    responses=error_responses(401, 422),
    description=(
        "The live in-app feed, for a dashboard to poll: alerts raised after the alert `after` "
        "(an id), oldest first, at most `limit`; pass the answer's `last_id` as `after` next "
        "time. Without `after`: the latest `limit` alerts, oldest first. Any role."
    ),
)
def alert_feed(
    user: CurrentUser,
    org_id: OrgScope,
    session: SessionDep,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="The last alert id seen")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> AlertFeed:
    """New alerts since an id (poll it)."""
    return service.feed(session, org_id, after=after, limit=limit)


@router.post(
    "/evaluate",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(401, 403, 422),
    description=(
        "Queue a job (kind `alerts.evaluate`) that evaluates every enabled rule now; the health "
        "recompute queues the same job after it stores new scores. Follow it at "
        "`GET /api/v1/jobs/{id}`. Analysts and admins."
    ),
)
def evaluate_alerts(
    user: AnalystUser, org_id: OrgScope, session: SessionDep, response: Response
) -> JobOut:
    """Evaluate the alert rules now, as a background job (analysts and admins)."""
    job_id = service.queue_evaluation(
        session.connection(), org_id, trigger="api", created_by=user.id
    )
    response.headers["Location"] = f"/api/v1/jobs/{job_id}"
    return JobOut.model_validate(session.get(Job, (org_id, job_id)))


@router.get("/{alert_id}", response_model=AlertOut, responses=error_responses(401, 404, 422))
def get_alert(alert_id: int, user: CurrentUser, org_id: OrgScope, session: SessionDep) -> AlertOut:
    """One alert."""
    return service.get_alert(session, org_id, alert_id)


@router.get(
    "/{alert_id}/deliveries",
    response_model=list[DeliveryOut],
    responses=error_responses(401, 404, 422),
    description=(
        f"The alert's delivery log: one record per destination. Any role.\n\n{DELIVERY_DOC}"
    ),
)
def list_alert_deliveries(
    alert_id: int, user: CurrentUser, org_id: OrgScope, session: SessionDep
) -> list[DeliveryOut]:
    """The alert's delivery records: attempts, last outcome, next retry."""
    return service.list_deliveries(session, org_id, alert_id)


@router.post(
    "/{alert_id}/acknowledge",
    response_model=AlertOut,
    responses=error_responses(401, 403, 404, 409, 422),
    description=(
        "Acknowledge an open alert (analysts and admins): it stops escalating. Acknowledging "
        "an acknowledged alert changes nothing; a resolved one answers 409."
    ),
)
def acknowledge_alert(
    alert_id: int, user: AnalystUser, org_id: OrgScope, session: SessionDep
) -> AlertOut:
    """Acknowledge an alert (analysts and admins)."""
    return service.acknowledge(session, org_id, alert_id, user, _now())


@router.post(
    "/{alert_id}/resolve",
    response_model=AlertOut,
    responses=error_responses(401, 403, 404, 422),
    description=(
        "Resolve an alert (analysts and admins). The same rule raises a new alert for the "
        "customer only once its condition has cleared and held again, after the cooldown. "
        "Resolving a resolved alert changes nothing."
    ),
)
def resolve_alert(
    alert_id: int, user: AnalystUser, org_id: OrgScope, session: SessionDep
) -> AlertOut:
    """Resolve an alert (analysts and admins)."""
    return service.resolve(session, org_id, alert_id, user, _now())
