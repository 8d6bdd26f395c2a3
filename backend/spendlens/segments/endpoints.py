"""HTTP routes of /api/v1/segments and /api/v1/customers/rfm."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status
from pydantic import Field

from spendlens.kit.dates import Day
from spendlens.auth.dependencies import AdminUser, AnalystUser, CurrentOrg, CurrentUser, OrgScope
from spendlens.db import SessionDep
from spendlens.errors import error_responses
from spendlens.jobs.schemas import JobOut
from spendlens.kit.pagination import Page, PaginationDep
from spendlens.segments import service
from spendlens.segments.definitions import DEFINITIONS_DOC, Segment
from spendlens.segments.repository import RfmFilters
from spendlens.segments.schemas import (
    CustomerRfmOut,
    RecomputeRequest,
    RfmSettingsOut,
    RfmSettingsUpdate,
    RfmSort,
    SegmentGrid,
    SegmentMovement,
    SegmentsOverview,
    SnapshotOut,
)

router = APIRouter(prefix="/segments", tags=["segments"])
# /customers/rfm lives with the segments; api.py mounts it before /customers/{customer_id}.
customer_rfm_router = APIRouter(prefix="/customers", tags=["segments"])

SOURCE_DOC = """
**Which RFM answers.** For a day with a stored snapshot (see `GET /api/v1/segments/snapshots`), that
snapshot, scored with the settings version it was computed with. For any other day, RFM computed for
this request from the transactions with the *current* settings (`source: computed`; on a large
organisation this takes seconds). Without `as_of`: the latest stored snapshot, or today (in the
organisation's time zone) computed when none is stored yet. Snapshots are stored by
`POST /api/v1/segments/recompute`, by a daily job for the previous UTC day, and after every import
that added rows (for today in the organisation's time zone).
"""

AsOfParam = Annotated[
    Day | None,
    Query(description="The day (UTC, YYYY-MM-DD); default: the latest stored snapshot"),
]


def _scores_param(name: str) -> object:
    return Query(description=f"Only customers with this {name} score (1–5); repeat for several")


ScoreFilter = list[Annotated[int, Field(ge=1, le=5)]] | None


@router.get(
    "",
    response_model=SegmentsOverview,
    responses=error_responses(401, 422),
    description=f"Customers, revenue and average R/F/M per segment.\n\n{DEFINITIONS_DOC}\n\n"
    f"{SOURCE_DOC}",
)
def get_segments(org: CurrentOrg, session: SessionDep, as_of: AsOfParam = None) -> SegmentsOverview:
    """Customers, revenue and average R/F/M per segment as of a day."""
    return service.overview(session, org, as_of)


@router.get(
    "/grid",
    response_model=SegmentGrid,
    responses=error_responses(401, 422),
    description=(
        "Customers and revenue in each cell of the recency score × frequency score grid (R and "
        "F 1–5, the scores of `GET /api/v1/customers/rfm`), for a heatmap. All 25 cells are "
        "listed, empty ones with 0, recency 5 … 1 then frequency 1 … 5. Segments are cut on R "
        "and the FM score (below), so one R × F cell can hold customers of several segments: "
        "each cell lists them (`segments`) and names the one most of its customers are in "
        "(`segment`; ties go to the better segment, null when the cell is empty). "
        f"Any role.\n\n{DEFINITIONS_DOC}\n\n{SOURCE_DOC}"
    ),
)
def get_segment_grid(org: CurrentOrg, session: SessionDep, as_of: AsOfParam = None) -> SegmentGrid:
    """Customers and revenue per recency score × frequency score as of a day."""
    return service.grid(session, org, as_of)


@router.get(
    "/movement",
    response_model=SegmentMovement,
    responses=error_responses(401, 422),
    description=(
        "How many customers moved from each segment to each other between two days "
        "(`from` < `to`). Only pairs with customers are listed, best segments first; "
        "`from_segment: null` counts customers with no RFM on `from` (no purchase yet), "
        "`to_segment: null` those with none on `to` (e.g. their transactions were deleted). "
        f"Each side is chosen as below.\n\n{SOURCE_DOC}"
    ),
)
def get_segment_movement(
    org: CurrentOrg,
    session: SessionDep,
    from_date: Annotated[Day, Query(alias="from", description="The earlier day, YYYY-MM-DD")],
    to_date: Annotated[Day, Query(alias="to", description="The later day, YYYY-MM-DD")],
) -> SegmentMovement:
    """Customers moving between segments from one day to another."""
    return service.movement(session, org, from_date, to_date)


@router.get("/snapshots", response_model=Page[SnapshotOut], responses=error_responses(401, 422))
def list_segment_snapshots(
    org_id: OrgScope, session: SessionDep, page: PaginationDep
) -> Page[SnapshotOut]:
    """The stored RFM snapshots, newest first: day, settings version, customers scored."""
    items, total = service.list_snapshots(session, org_id, skip=page.skip, limit=page.limit)
    return Page(items=items, total=total, skip=page.skip, limit=page.limit)


@router.get("/settings", response_model=RfmSettingsOut, responses=error_responses(401, 404, 422))
def get_segment_settings(
    user: CurrentUser,
    org_id: OrgScope,
    session: SessionDep,
    version: Annotated[
        int | None,
        Query(
            ge=0,
            description=(
                "An earlier settings version (as recorded on a snapshot); default the current one"
            ),
        ),
    ] = None,
) -> RfmSettingsOut:
    """How RFM scores are cut: per dimension 4 cut points, or null for quantiles."""
    return service.get_settings(session, org_id, version=version)


@router.put(
    "/settings",
    response_model=RfmSettingsOut,
    responses=error_responses(401, 403, 422),
    description=(
        "Replace the scoring settings (admins). Send all three of `recency`, `frequency`, "
        "`monetary`: each 4 strictly ascending cut points, or null to score by quantile. Every "
        "change makes a new settings version; stored snapshots keep the version they were "
        "computed with, and the next recompute uses the new one.\n\n" + DEFINITIONS_DOC
    ),
)
def put_segment_settings(
    body: RfmSettingsUpdate, user: AdminUser, org_id: OrgScope, session: SessionDep
) -> RfmSettingsOut:
    """Set the RFM cut points, or quantiles, per dimension (admins)."""
    return service.update_settings(session, org_id, user, body)


@router.post(
    "/recompute",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(401, 403, 422),
    description=(
        "Queue a job (kind `rfm`) that computes every customer's RFM as of `as_of` (default: "
        "today in the organisation's time zone) with the current settings and stores it as that "
        "day's snapshot, replacing an earlier one of the same day in one transaction. Follow it "
        "at `GET /api/v1/jobs/{id}`."
    ),
)
def recompute_segments(
    user: AnalystUser,
    org: CurrentOrg,
    session: SessionDep,
    response: Response,
    body: Annotated[RecomputeRequest | None, Body()] = None,
) -> JobOut:
    """Recompute and store the RFM snapshot of a day, as a background job (analysts and admins)."""
    job = service.request_recompute(session, org, user, body.as_of if body else None)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return job


@customer_rfm_router.get(
    "/rfm",
    response_model=Page[CustomerRfmOut],
    responses=error_responses(401, 422),
    description=(
        f"Customers with their RFM, filtered and sorted.\n\n{DEFINITIONS_DOC}\n\n{SOURCE_DOC}"
    ),
)
def list_customer_rfm(
    org: CurrentOrg,
    session: SessionDep,
    page: PaginationDep,
    as_of: AsOfParam = None,
    segment: Annotated[
        list[Segment] | None, Query(description="Segment slug; repeat for several")
    ] = None,
    r_score: Annotated[ScoreFilter, _scores_param("R")] = None,
    f_score: Annotated[ScoreFilter, _scores_param("F")] = None,
    m_score: Annotated[ScoreFilter, _scores_param("M")] = None,
    sort: Annotated[
        RfmSort,
        Query(
            description=(
                "`monetary`, `frequency`, `recency` (days) or `name`; a leading `-` for "
                "descending; ties by customer id"
            )
        ),
    ] = RfmSort.monetary_desc,
) -> Page[CustomerRfmOut]:
    """Customers with their recency, frequency, monetary value, scores and segment."""
    filters = RfmFilters(
        segments=tuple(dict.fromkeys(s.value for s in segment or ())),
        r_scores=tuple(dict.fromkeys(r_score or ())),
        f_scores=tuple(dict.fromkeys(f_score or ())),
        m_scores=tuple(dict.fromkeys(m_score or ())),
    )
    items, total = service.list_customer_rfm(
        session, org, filters, as_of=as_of, sort=sort, skip=page.skip, limit=page.limit
    )
    return Page(items=items, total=total, skip=page.skip, limit=page.limit)
