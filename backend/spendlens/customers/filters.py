"""The filter set of the customer list: text search, countries, signup range, lifecycle stages,
RFM segments, health bands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, Query
from pydantic import Field
from sqlalchemy import ColumnElement, or_

from spendlens.health.definitions import Band
from spendlens.health.repository import latest_band_members
from spendlens.kit.dates import Day
from spendlens.errors import Unprocessable
from spendlens.kit.sql import contains_pattern
from spendlens.models import Customer
from spendlens.models.rules import COUNTRY_CODE_PATTERN, LifecycleStage
from spendlens.segments.definitions import Segment
from spendlens.segments.repository import latest_segment_members


@dataclass(frozen=True)
class CustomerFilters:
    q: str | None = None
    countries: tuple[str, ...] = ()
    signup_from: date | None = None
    signup_to: date | None = None
    lifecycle_stages: tuple[LifecycleStage, ...] = ()
    segments: tuple[Segment, ...] = ()
    health_bands: tuple[Band, ...] = ()


def filter_conditions(filters: CustomerFilters, org_id: int) -> list[ColumnElement[bool]]:
    """WHERE conditions for `filters` within one organisation, on the customers table."""
    conditions: list[ColumnElement[bool]] = [Customer.org_id == org_id]
    if filters.q:
        pattern = contains_pattern(filters.q)
        conditions.append(
            or_(
                Customer.name.ilike(pattern, escape="\\"),
                Customer.email.ilike(pattern, escape="\\"),
                Customer.external_id.ilike(pattern, escape="\\"),
            )
        )
    if filters.countries:
        conditions.append(Customer.country.in_(filters.countries))
    if filters.signup_from is not None:
        conditions.append(Customer.signup_date >= filters.signup_from)
    if filters.signup_to is not None:
        conditions.append(Customer.signup_date <= filters.signup_to)
    if filters.lifecycle_stages:
        conditions.append(Customer.lifecycle_stage.in_([s.value for s in filters.lifecycle_stages]))
    if filters.segments:
        members = latest_segment_members(org_id, [s.value for s in filters.segments])
        conditions.append(Customer.id.in_(members))
    if filters.health_bands:
        in_bands = latest_band_members(org_id, [b.value for b in filters.health_bands])
        conditions.append(Customer.id.in_(in_bands))
    return conditions


def customer_filters(
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Case-insensitive text in name, email or external id",
        ),
    ] = None,
    country: Annotated[
        list[Annotated[str, Field(pattern=COUNTRY_CODE_PATTERN)]] | None,
        Query(description="ISO 3166-1 alpha-2 code in upper case; repeat for several"),
    ] = None,
    signup_from: Annotated[
        Day | None, Query(description="First signup day included, YYYY-MM-DD")
    ] = None,
    signup_to: Annotated[
        Day | None, Query(description="Last signup day included, YYYY-MM-DD")
    ] = None,
    lifecycle_stage: Annotated[
        list[LifecycleStage] | None, Query(description="Lifecycle stage; repeat for several")
    ] = None,
    segment: Annotated[
        list[Segment] | None,
        Query(
            description=(
                "RFM segment in the latest stored snapshot (see /api/v1/segments); repeat for "
                "several. Customers without RFM there never match"
            )
        ),
    ] = None,
    health_band: Annotated[
        list[Band] | None,
        Query(
            description=(
                "Health band in the latest health computation (see /api/v1/health); repeat "
                "for several. Customers without a score never match"
            )
        ),
    ] = None,
) -> CustomerFilters:
    if signup_from and signup_to and signup_to < signup_from:
        raise Unprocessable("signup_to is before signup_from", loc=("query", "signup_to"))
    return CustomerFilters(
        q=q.strip() if q and q.strip() else None,
        countries=tuple(dict.fromkeys(country or ())),
        signup_from=signup_from,
        signup_to=signup_to,
        lifecycle_stages=tuple(dict.fromkeys(lifecycle_stage or ())),
        segments=tuple(dict.fromkeys(segment or ())),
        health_bands=tuple(dict.fromkeys(health_band or ())),
    )


CustomerFiltersDep = Annotated[CustomerFilters, Depends(customer_filters)]
