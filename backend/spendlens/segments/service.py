"""Business rules of RFM segmentation: which rows answer a question (a stored snapshot of the day
when there is one, otherwise computed on the fly with the current settings), the settings and
their versions, and the recompute job (queued by the API, by the daily schedule and after imports).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Connection, Row, Select
from sqlalchemy.orm import Session

from spendlens.errors import NotFound, Unprocessable
from spendlens.jobs.registry import enqueue
from spendlens.jobs.schemas import JobOut
from spendlens.kit.dates import today_in, today_in_org_tz
from spendlens.kit.ratios import share_of
from spendlens.models import Job, Organization, RfmSettings, User
from spendlens.segments import repository
from spendlens.segments.definitions import SCORES, SEGMENT_INFO, Segment
from spendlens.segments.repository import Cuts, RfmFilters
from spendlens.segments.schemas import (
    CustomerRfm,
    CustomerRfmOut,
    GridCell,
    GridSegment,
    RfmSettingsOut,
    RfmSettingsUpdate,
    RfmSort,
    ScoringMethod,
    SegmentGrid,
    SegmentMove,
    SegmentMovement,
    SegmentsOverview,
    SegmentSummary,
    SnapshotOut,
    SnapshotSource,
)
from spendlens.tenancy import set_org

JOB_KIND = "rfm"
ZERO = Decimal("0.00")
Trigger = Literal["api", "schedule", "import", "seed"]


# --- settings -----------------------------------------------------------------------------------


def cuts_from(settings: Row | RfmSettings | None) -> Cuts:
    if settings is None:
        return Cuts()

    def as_tuple(values: list | None) -> tuple | None:
        return tuple(values) if values is not None else None

    return Cuts(
        version=settings.version,
        recency=as_tuple(settings.recency_thresholds),
        frequency=as_tuple(settings.frequency_thresholds),
        monetary=as_tuple(settings.monetary_thresholds),
    )


def current_cuts(db: Session | Connection, org_id: int) -> Cuts:
    return cuts_from(repository.current_settings(db, org_id))


def _settings_out(settings: Row | RfmSettings | None) -> RfmSettingsOut:
    cuts = cuts_from(settings)

    def method(values: tuple | None) -> ScoringMethod:
        return ScoringMethod.quantile if values is None else ScoringMethod.cut_points

    return RfmSettingsOut(
        version=cuts.version,
        recency=list(cuts.recency) if cuts.recency is not None else None,
        frequency=list(cuts.frequency) if cuts.frequency is not None else None,
        monetary=list(cuts.monetary) if cuts.monetary is not None else None,
        methods={
            "recency": method(cuts.recency),
            "frequency": method(cuts.frequency),
            "monetary": method(cuts.monetary),
        },
        updated_at=settings.created_at if settings else None,
        updated_by=settings.created_by if settings else None,
    )


def get_settings(session: Session, org_id: int, *, version: int | None = None) -> RfmSettingsOut:
    """The current settings, or the given version (0: the defaults, all quantiles)."""
    if version is None:
        return _settings_out(repository.current_settings(session, org_id))
    if version == 0:
        return _settings_out(None)
    settings = repository.settings_version(session, org_id, version)
    if settings is None:
        raise NotFound(f"No settings version {version}")
    return _settings_out(settings)


def update_settings(
    session: Session, org_id: int, user: User, body: RfmSettingsUpdate
) -> RfmSettingsOut:
    """Record a new settings version; snapshots already stored keep the version they used."""
    repository.lock_settings(session, org_id)
    current = repository.current_settings(session, org_id)
    settings = RfmSettings(
        org_id=org_id,
        version=(current.version if current else 0) + 1,
        recency_thresholds=body.recency,
        frequency_thresholds=body.frequency,
        monetary_thresholds=body.monetary,
        created_by=user.id,
    )
    session.add(settings)
    session.flush()
    session.refresh(settings)  # created_at comes from the database
    return _settings_out(settings)


# --- which rows answer a question ---------------------------------------------------------------


def org_today(org: Organization) -> date:
    return today_in_org_tz(org)


def _not_in_future(org: Organization, day: date, name: str) -> None:
    if day > org_today(org):
        raise Unprocessable(f"{name} is in the future", loc=("query", name))


@dataclass(frozen=True)
class RfmRows:
    """The RFM of every customer as of a day, as a query, and where it comes from."""

    rows: Select
    as_of: date
    source: SnapshotSource
    settings_version: int


def rows_as_of(session: Session, org: Organization, as_of: date | None) -> RfmRows:
    """The stored snapshot of `as_of` (default: the latest one), or, when there is none, RFM
    computed for this request with the current settings (default day: today)."""
    snapshot = (
        repository.latest_snapshot(session, org.id)
        if as_of is None
        else repository.get_snapshot(session, org.id, as_of)
    )
    if snapshot is not None:
        rows = repository.stored_rows(org.id, snapshot.as_of)
        return RfmRows(rows, snapshot.as_of, "stored", snapshot.settings_version)
    day = as_of or org_today(org)
    cuts = current_cuts(session, org.id)
    repository.set_aggregate_work_mem(session)
    repository.prefer_streamed_aggregates(session)
    rows = repository.computed_rows(org.id, org.base_currency, day, cuts)
    return RfmRows(rows, day, "computed", cuts.version)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def overview(session: Session, org: Organization, as_of: date | None) -> SegmentsOverview:
    if as_of is not None:
        _not_in_future(org, as_of, "as_of")
    rfm = rows_as_of(session, org, as_of)
    found = {row["segment"]: row for row in repository.segment_summary(session, rfm.rows)}
    customers = sum(row["customers"] for row in found.values())
    revenue = sum((row["revenue"] for row in found.values()), start=ZERO)
    segments = []
    for segment in Segment:
        row = found.get(segment.value)
        info = SEGMENT_INFO[segment]
        count = row["customers"] if row else 0
        segment_revenue = row["revenue"] if row else ZERO
        segments.append(
            SegmentSummary(
                segment=segment,
                label=info.label,
                description=info.description,
                customers=count,
                share=share_of(count, customers),
                revenue=segment_revenue,
                revenue_share=share_of(segment_revenue, revenue),
                average_recency_days=_float(row and row["average_recency_days"]),
                average_frequency=_float(row and row["average_frequency"]),
                average_monetary=row["average_monetary"] if row else None,
                average_r_score=_float(row and row["average_r_score"]),
                average_f_score=_float(row and row["average_f_score"]),
                average_m_score=_float(row and row["average_m_score"]),
            )
        )
    return SegmentsOverview(
        as_of=rfm.as_of,
        source=rfm.source,
        settings_version=rfm.settings_version,
        currency=org.base_currency,
        customers=customers,
        revenue=revenue,
        segments=segments,
    )


def grid(session: Session, org: Organization, as_of: date | None) -> SegmentGrid:
    """Customers and revenue in each of the 25 cells of recency score × frequency score."""
    if as_of is not None:
        _not_in_future(org, as_of, "as_of")
    rfm = rows_as_of(session, org, as_of)
    groups = repository.grid_counts(session, rfm.rows)
    customers = sum(g["customers"] for g in groups)
    revenue = sum((g["revenue"] for g in groups), start=ZERO)
    cells = []
    for r_score in sorted(SCORES, reverse=True):
        for f_score in SCORES:
            here = [g for g in groups if (g["r_score"], g["f_score"]) == (r_score, f_score)]
            here.sort(key=lambda g: _segment_rank(g["segment"]))
            count = sum(g["customers"] for g in here)
            # max() keeps the first of equals: the better segment wins a tie.
            main = max(here, key=lambda g: g["customers"], default=None)
            cells.append(
                GridCell(
                    recency_score=r_score,
                    frequency_score=f_score,
                    customers=count,
                    share=share_of(count, customers),
                    revenue=sum((g["revenue"] for g in here), start=ZERO),
                    segment=main["segment"] if main else None,
                    segments=[
                        GridSegment(segment=g["segment"], customers=g["customers"]) for g in here
                    ],
                )
            )
    return SegmentGrid(
        as_of=rfm.as_of,
        source=rfm.source,
        settings_version=rfm.settings_version,
        currency=org.base_currency,
        customers=customers,
        revenue=revenue,
        cells=cells,
    )


_SEGMENT_ORDER = {segment.value: i for i, segment in enumerate(Segment)}


def _segment_rank(slug: str | None) -> int:
    return _SEGMENT_ORDER.get(slug, len(_SEGMENT_ORDER)) if slug is not None else 99


def movement(
    session: Session, org: Organization, from_date: date, to_date: date
) -> SegmentMovement:
    if from_date >= to_date:
        raise Unprocessable("from must be before to", loc=("query", "to"))
    _not_in_future(org, to_date, "to")
    before = rows_as_of(session, org, from_date)
    after = rows_as_of(session, org, to_date)
    rows = repository.movement(session, before.rows, after.rows)
    rows.sort(key=lambda r: (_segment_rank(r["from_segment"]), _segment_rank(r["to_segment"])))
    return SegmentMovement(
        from_date=from_date,
        to_date=to_date,
        from_source=before.source,
        to_source=after.source,
        from_settings_version=before.settings_version,
        to_settings_version=after.settings_version,
        moves=[
            SegmentMove(
                from_segment=r["from_segment"], to_segment=r["to_segment"], customers=r["n"]
            )
            for r in rows
        ],
    )


def _customer_rfm(row: Any, as_of: date, settings_version: int) -> dict[str, Any]:
    return {
        **row,
        "as_of": as_of,
        "segment_label": SEGMENT_INFO[Segment(row["segment"])].label,
        "settings_version": settings_version,
    }


def list_customer_rfm(
    session: Session,
    org: Organization,
    filters: RfmFilters,
    *,
    as_of: date | None,
    sort: RfmSort,
    skip: int,
    limit: int,
) -> tuple[list[CustomerRfmOut], int]:
    if as_of is not None:
        _not_in_future(org, as_of, "as_of")
    rfm = rows_as_of(session, org, as_of)
    rows, total = repository.list_page(
        session, org.id, rfm.rows, filters, sort=sort, skip=skip, limit=limit
    )
    items = [
        CustomerRfmOut.model_validate(_customer_rfm(row, rfm.as_of, rfm.settings_version))
        for row in rows
    ]
    return items, total


def latest_customer_rfm(session: Session, org_id: int, customer_id: int) -> CustomerRfm | None:
    """The customer's RFM in the organisation's latest stored snapshot (None: not in it)."""
    score = repository.latest_customer_rfm(session, org_id, customer_id)
    if score is None:
        return None
    return CustomerRfm(
        as_of=score.as_of,
        recency_days=score.recency_days,
        frequency=score.frequency,
        monetary=score.monetary,
        r_score=score.r_score,
        f_score=score.f_score,
        m_score=score.m_score,
        segment=Segment(score.segment),
        segment_label=SEGMENT_INFO[Segment(score.segment)].label,
        settings_version=score.settings_version,
    )


def list_snapshots(
    session: Session, org_id: int, *, skip: int, limit: int
) -> tuple[list[SnapshotOut], int]:
    items, total = repository.list_snapshots(session, org_id, skip=skip, limit=limit)
    return [SnapshotOut.model_validate(s) for s in items], total


# --- the recompute job (run by spendlens.segments.job) ------------------------------------------


def recompute(
    conn: Connection, org_id: int, as_of: date, *, job_id: int | None = None
) -> dict[str, Any]:
    """Compute and store the snapshot of `as_of` with the current settings, in the caller's
    transaction (replacing the day's earlier snapshot); returns what was done."""
    started = time.perf_counter()
    currency = repository.base_currency(conn, org_id)
    cuts = current_cuts(conn, org_id)
    customers = repository.store_snapshot(conn, org_id, currency, as_of, cuts, job_id=job_id)
    return {
        "as_of": as_of.isoformat(),
        "customers": customers,
        "settings_version": cuts.version,
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
    """Record an `rfm` job and queue it in the caller's transaction; returns the job's id.

    Without `as_of`, the job computes today in the organisation's time zone.
    """
    if as_of is None:
        as_of = today_in(repository.org_timezone(conn, org_id))
    params = {"as_of": as_of.isoformat(), "trigger": trigger, **params}
    return enqueue(conn, org_id, JOB_KIND, params, created_by=created_by)


def request_recompute(
    session: Session, org: Organization, user: User, as_of: date | None
) -> JobOut:
    if as_of is not None:
        _not_in_future(org, as_of, "as_of")
    job_id = queue_recompute(
        session.connection(), org.id, trigger="api", as_of=as_of, created_by=user.id
    )
    return JobOut.model_validate(session.get(Job, (org.id, job_id)))


def queue_daily_recomputes(conn: Connection, as_of: date) -> int:
    """One recompute of `as_of` for every organisation; returns how many were queued."""
    org_ids = repository.organization_ids(conn)
    for org_id in org_ids:
        set_org(conn, org_id)  # one organisation at a time (row-level security)
        queue_recompute(conn, org_id, trigger="schedule", as_of=as_of)
    return len(org_ids)
