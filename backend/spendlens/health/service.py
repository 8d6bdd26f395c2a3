"""Business rules of customer health: the versioned settings, the recompute job (queued by the
API, the nightly schedule, imports and event batches — one waiting job per organisation at a
time), and the answers (a customer's score, components, history and trend; the overview)."""

from __future__ import annotations

import math
import time
from datetime import date, timedelta
from typing import Any, Literal

from scipy import stats
from sqlalchemy import Connection, Row
from sqlalchemy.orm import Session

from spendlens.errors import NotFound, Unprocessable
from spendlens.health import repository
from spendlens.health.definitions import (
    COMPONENT_NAMES,
    DEFAULT_BANDS,
    DEFAULT_WEIGHTS,
    Band,
)
from spendlens.health.schemas import (
    AtRiskCustomer,
    AtRiskSort,
    BandCount,
    BandThresholds,
    ComponentOut,
    CustomerHealthOut,
    HealthOverview,
    HealthSettingsOut,
    HealthSettingsUpdate,
    HealthTrend,
    HistogramBin,
    HistoryPoint,
    Projection,
)
from spendlens.jobs.registry import enqueue
from spendlens.jobs.schemas import JobOut
from spendlens.kit.dates import today_utc
from spendlens.kit.pagination import Page
from spendlens.kit.ratios import share_of
from spendlens.models import HealthSettings, Job, Organization, User
from spendlens.tenancy import set_org

JOB_KIND = "health"
Trigger = Literal["api", "schedule", "import", "events", "seed"]
TREND_DAYS = 90
PROJECTION_DAYS = 30
PREDICTION_LEVEL = 0.95
HISTORY_DAYS = 365
HISTOGRAM_BINS = 10
AT_RISK_BANDS = [Band.at_risk.value, Band.critical.value]


# --- settings -----------------------------------------------------------------------------------


def _settings_out(row: Row | HealthSettings | None) -> HealthSettingsOut:
    if row is None:
        return HealthSettingsOut(
            version=0,
            weights=dict(DEFAULT_WEIGHTS),
            bands=BandThresholds(**DEFAULT_BANDS),
            updated_at=None,
            updated_by=None,
        )
    return HealthSettingsOut(
        version=row.version,
        weights={name: float(row.weights.get(name, 0.0)) for name in COMPONENT_NAMES},
        bands=BandThresholds(**row.bands),
        updated_at=row.created_at,
        updated_by=row.created_by,
    )


def current_settings(db: Session | Connection, org_id: int) -> HealthSettingsOut:
    return _settings_out(repository.current_settings(db, org_id))


def get_settings(session: Session, org_id: int, *, version: int | None = None) -> HealthSettingsOut:
    """The current settings, or the given version (0: the defaults)."""
    if version is None:
        return current_settings(session, org_id)
    if version == 0:
        return _settings_out(None)
    row = repository.settings_version(session, org_id, version)
    if row is None:
        raise NotFound(f"No health settings version {version}")
    return _settings_out(row)


def update_settings(
    session: Session, org_id: int, user: User, body: HealthSettingsUpdate
) -> HealthSettingsOut:
    """Record a new version; computations already stored keep the version they used."""
    repository.lock_settings(session, org_id)
    current = repository.current_settings(session, org_id)
    settings = HealthSettings(
        org_id=org_id,
        version=(current.version if current else 0) + 1,
        weights=body.weights,
        bands=body.bands.model_dump(),
        created_by=user.id,
    )
    session.add(settings)
    session.flush()
    session.refresh(settings)
    return _settings_out(settings)


# --- the recompute job --------------------------------------------------------------------------


def recompute(
    conn: Connection, org_id: int, as_of: date, *, job_id: int | None = None
) -> dict[str, Any]:
    """Compute and store every customer's health as of `as_of` with the current settings, in
    the caller's transaction (replacing the day's earlier computation)."""
    started = time.perf_counter()
    currency = repository.base_currency(conn, org_id)
    settings = current_settings(conn, org_id)
    computation = repository.store_computation(
        conn,
        org_id,
        currency,
        as_of,
        settings_version=settings.version,
        weights=settings.weights,
        bands=settings.bands.model_dump(),
        job_id=job_id,
    )
    return {
        "as_of": as_of.isoformat(),
        "computation_id": computation.id,
        "customers": computation.customers,
        "unscored": computation.unscored,
        "settings_version": settings.version,
        "seconds": round(time.perf_counter() - started, 3),
    }


def queue_recompute(
    conn: Connection,
    org_id: int,
    *,
    trigger: Trigger,
    as_of: date | None = None,
    created_by: int | None = None,
    **params: Any,
) -> int:
    """Record a `health` job and queue it in the caller's transaction; returns its id."""
    day = as_of or today_utc()
    params = {"as_of": day.isoformat(), "trigger": trigger, **params}
    return enqueue(conn, org_id, JOB_KIND, params, created_by=created_by)


def queue_recompute_once(
    conn: Connection, org_id: int, *, trigger: Trigger, as_of: date | None = None, **params: Any
) -> int | None:
    """Queue a recompute unless the organisation's latest `health` job is still waiting to start
    for the same day (it will see the new data too): however many event batches or imports
    arrive, one recompute waits per organisation. Returns the id of the job queued, if any."""
    day = as_of or today_utc()
    latest = repository.latest_job_state(conn, org_id, JOB_KIND)
    if latest is not None and latest[0] == "queued" and latest[1].get("as_of") == day.isoformat():
        return None
    return queue_recompute(conn, org_id, trigger=trigger, as_of=day, **params)


def request_recompute(
    session: Session, org: Organization, user: User, as_of: date | None
) -> JobOut:
    if as_of is not None and as_of > today_utc():
        raise Unprocessable("as_of is in the future", loc=("body", "as_of"))
    job_id = queue_recompute(
        session.connection(), org.id, trigger="api", as_of=as_of, created_by=user.id
    )
    return JobOut.model_validate(session.get(Job, (org.id, job_id)))


def queue_nightly_recomputes(conn: Connection, as_of: date) -> int:
    """One recompute of `as_of` for every organisation; returns how many were queued."""
    org_ids = repository.organization_ids(conn)
    for org_id in org_ids:
        set_org(conn, org_id)  # one organisation at a time (row-level security)
        queue_recompute(conn, org_id, trigger="schedule", as_of=as_of)
    return len(org_ids)


# --- a customer's health --------------------------------------------------------------------------


def _components(stored: dict[str, Any], configured: dict[str, float]) -> list[ComponentOut]:
    out = []
    for name in COMPONENT_NAMES:
        part = stored.get(name) or {}
        out.append(
            ComponentOut(
                name=name,
                value=part.get("value"),
                normalized=part.get("normalized"),
                weight=float(part.get("weight") or 0),
                configured_weight=float(configured.get(name, 0.0)),
                contribution=float(part.get("contribution") or 0),
            )
        )
    return out


def trend(history: list[HistoryPoint]) -> HealthTrend:
    """Least-squares line of score on day over the stored scores in the 90 days up to the
    latest one; its value 30 days after the latest day, with a 95% OLS prediction interval
    (n ≥ 3), all clipped to 0–100."""
    if not history:
        return HealthTrend(points=0, slope_per_day=None, projection=None)
    last = history[-1].as_of
    window = [p for p in history if p.as_of > last - timedelta(days=TREND_DAYS)]
    n = len(window)
    if n < 2:
        return HealthTrend(points=n, slope_per_day=None, projection=None)
    xs = [float((p.as_of - last).days) for p in window]
    ys = [p.score for p in window]
    x_mean = sum(xs) / n
    y_mean = sum(ys) / n
    sxx = sum((x - x_mean) ** 2 for x in xs)
    slope = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys)) / sxx
    intercept = y_mean - slope * x_mean
    x0 = float(PROJECTION_DAYS)
    fitted = intercept + slope * x0
    lower = upper = None
    if n >= 3:
        sse = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys))
        s = math.sqrt(sse / (n - 2))
        t = float(stats.t.ppf((1 + PREDICTION_LEVEL) / 2, n - 2))
        half = t * s * math.sqrt(1 + 1 / n + (x0 - x_mean) ** 2 / sxx)
        lower, upper = _clip(fitted - half), _clip(fitted + half)
    return HealthTrend(
        points=n,
        slope_per_day=round(slope, 6),
        projection=Projection(
            as_of=last + timedelta(days=PROJECTION_DAYS),
            score=_clip(fitted),
            lower=lower,
            upper=upper,
        ),
    )


def _clip(value: float) -> float:
    return round(min(100.0, max(0.0, value)), 4)


def customer_health(session: Session, org_id: int, customer_id: int) -> CustomerHealthOut:
    if not repository.customer_exists(session, org_id, customer_id):
        raise NotFound("Customer not found")
    computation = repository.latest_computation(session, org_id)
    row = (
        repository.customer_score(session, org_id, computation.id, customer_id)
        if computation is not None
        else None
    )
    since = (computation.as_of if computation else today_utc()) - timedelta(days=HISTORY_DAYS)
    history = [
        HistoryPoint.model_validate(dict(point._mapping))
        for point in repository.customer_history(session, org_id, customer_id, since)
    ]
    if row is None:
        return CustomerHealthOut(
            customer_id=customer_id,
            score=None,
            band=None,
            as_of=computation.as_of if computation else None,
            components=[],
            settings_version=computation.settings_version if computation else None,
            computed_at=computation.computed_at if computation else None,
            history=history,
            trend=trend(history),
        )
    settings = get_settings(session, org_id, version=row.settings_version)
    return CustomerHealthOut(
        customer_id=customer_id,
        score=row.score,
        band=Band(row.band),
        as_of=row.as_of,
        components=_components(row.components, settings.weights),
        settings_version=row.settings_version,
        computed_at=row.computed_at,
        history=history,
        trend=trend(history),
    )


# --- the overview ---------------------------------------------------------------------------------


def overview(
    session: Session, org_id: int, *, sort: AtRiskSort, skip: int, limit: int
) -> HealthOverview:
    computation = repository.latest_computation(session, org_id)
    width = 100 / HISTOGRAM_BINS
    if computation is None:
        counts: dict[str, int] = {}
        bins: dict[int, int] = {}
        items: list[dict[str, Any]] = []
        total = 0
    else:
        counts = repository.band_counts(session, org_id, computation.id)
        bins = repository.distribution(session, org_id, computation.id, HISTOGRAM_BINS)
        previous = repository.previous_computation(session, org_id, computation.as_of)
        items, total = repository.at_risk_page(
            session,
            org_id,
            computation.id,
            previous.id if previous else None,
            AT_RISK_BANDS,
            sort=sort.value,
            skip=skip,
            limit=limit,
        )
    scored = sum(counts.values())
    return HealthOverview(
        as_of=computation.as_of if computation else None,
        computed_at=computation.computed_at if computation else None,
        settings_version=computation.settings_version if computation else None,
        customers=scored,
        unscored=computation.unscored if computation else 0,
        bands=[
            BandCount(
                band=band,
                customers=counts.get(band.value, 0),
                share=share_of(counts.get(band.value, 0), scored),
            )
            for band in Band
        ],
        distribution=[
            HistogramBin(lower=k * width, upper=(k + 1) * width, customers=bins.get(k, 0))
            for k in range(HISTOGRAM_BINS)
        ],
        at_risk=Page(
            items=[AtRiskCustomer.model_validate(item) for item in items],
            total=total,
            skip=skip,
            limit=limit,
        ),
    )
