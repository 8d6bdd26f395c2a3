"""Customer lifetime value: fits of the BG/NBD and Gamma-Gamma models, and each customer's
estimates from a fit (see spendlens.clv)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from spendlens.models.base import Base, TimestampMixin


class ClvFit(TimestampMixin, Base):
    """One fit: what it was asked (windows, horizons, discount), and once its job has run, the
    parameters, log-likelihoods, convergence and holdout evaluation. Its state is its job's."""

    __tablename__ = "clv_fits"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        ForeignKeyConstraint(["org_id", "job_id"], ["jobs.org_id", "jobs.id"], ondelete="CASCADE"),
        CheckConstraint("calibration_end > calibration_start", name="calibration_window"),
        CheckConstraint(
            "holdout_end IS NULL OR holdout_end > calibration_end", name="holdout_window"
        ),
        CheckConstraint(
            "purchases_horizon_days > 0 AND clv_horizon_days > 0", name="horizons_positive"
        ),
        Index("ix_clv_fits_org_id_fitted_at", "org_id", "fitted_at"),
        Index("ix_clv_fits_org_id_job_id", "org_id", "job_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    job_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    calibration_start: Mapped[date] = mapped_column(Date, nullable=False)
    calibration_end: Mapped[date] = mapped_column(Date, nullable=False)
    holdout_end: Mapped[date | None] = mapped_column(Date)
    purchases_horizon_days: Mapped[int] = mapped_column(Integer, nullable=False)
    clv_horizon_days: Mapped[int] = mapped_column(Integer, nullable=False)
    monthly_discount_rate: Mapped[Decimal] = mapped_column(Numeric(6, 4), nullable=False)
    time_unit: Mapped[str] = mapped_column(String(8), nullable=False)
    model_version: Mapped[str] = mapped_column(String(32), nullable=False)
    # Filled in by the fit's job, all in its one transaction.
    currency: Mapped[str | None] = mapped_column(String(3))
    customers: Mapped[int | None] = mapped_column(Integer)
    repeat_buyers: Mapped[int | None] = mapped_column(Integer)
    # {"r", "alpha", "a", "b", "p", "q", "v"} and their standard errors.
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    standard_errors: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    bgnbd_log_likelihood: Mapped[float | None] = mapped_column(Double)
    gamma_gamma_log_likelihood: Mapped[float | None] = mapped_column(Double)
    converged: Mapped[bool | None] = mapped_column(Boolean)
    # Per model: {"converged", "iterations", "message"}.
    convergence: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    warnings: Mapped[list[str] | None] = mapped_column(JSONB)
    scored_as_of: Mapped[date | None] = mapped_column(Date)
    scored_customers: Mapped[int | None] = mapped_column(Integer)
    # Totals over the estimates and the distribution of P(alive), for charts.
    score_summary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    fitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ClvEstimate(Base):
    """A customer's figures from one fit, as of the fit's `scored_as_of`; times in weeks."""

    __tablename__ = "clv_estimates"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "fit_id", "customer_id"),
        ForeignKeyConstraint(
            ["org_id", "fit_id"], ["clv_fits.org_id", "clv_fits.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["org_id", "customer_id"], ["customers.org_id", "customers.id"], ondelete="CASCADE"
        ),
        # A deleted customer's estimates go with it: find them without scanning every fit.
        Index("ix_clv_estimates_org_id_customer_id", "org_id", "customer_id"),
    )

    org_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    fit_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    frequency: Mapped[int] = mapped_column(Integer, nullable=False)
    recency: Mapped[float] = mapped_column(Double, nullable=False)
    age: Mapped[float] = mapped_column(Double, nullable=False)
    monetary: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    expected_purchases: Mapped[float] = mapped_column(Double, nullable=False)
    p_alive: Mapped[float] = mapped_column(Double, nullable=False)
    expected_spend: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    clv: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
