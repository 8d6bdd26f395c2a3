"""Next-month purchase and churn models: every trained model (what it was asked, how it was
trained, its and its baseline's metrics, the fitted estimator) and its predictions on the test
cutoff (see spendlens.prediction)."""

from __future__ import annotations

from datetime import date, datetime
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
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from spendlens.models.base import Base, TimestampMixin

PREDICTION_TARGETS = ("purchase_30d", "churn_90d")
MODEL_STATES = ("queued", "running", "done", "failed")


class PredictionModel(TimestampMixin, Base):
    """One trained (or to be trained) classifier of one target. `state` is written `queued` by
    the request and `done` or `failed` by the job (in its one transaction); the API shows
    `running` while the model's job runs. `estimator` is the fitted scikit-learn model, pickled
    by the job itself and only ever unpickled from this column (users cannot write it)."""

    __tablename__ = "prediction_models"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        ForeignKeyConstraint(["org_id", "job_id"], ["jobs.org_id", "jobs.id"], ondelete="CASCADE"),
        UniqueConstraint("org_id", "target", "version"),
        CheckConstraint("target IN ('purchase_30d', 'churn_90d')", name="target"),
        CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state"),
        # At most one active model per target and organisation.
        Index(
            "ix_prediction_models_one_active",
            "org_id",
            "target",
            unique=True,
            postgresql_where=text("active"),
        ),
        Index("ix_prediction_models_org_id_job_id", "org_id", "job_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    job_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    target: Mapped[str] = mapped_column(String(16), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)  # 1, 2, … per target
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    algorithm: Mapped[str] = mapped_column(String(64), nullable=False)
    baseline_algorithm: Mapped[str] = mapped_column(String(64), nullable=False)
    features: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    baseline_features: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    # {"model": {...}, "baseline": {...}}: the estimators' parameters.
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    test_cutoff: Mapped[date] = mapped_column(Date, nullable=False)
    train_cutoffs: Mapped[list[str]] = mapped_column(JSONB, nullable=False)  # ISO dates
    horizon_days: Mapped[int] = mapped_column(Integer, nullable=False)
    # Filled in by the job.
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # {"model", "baseline"}
    importances: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # {"model", "baseline"}
    training: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # rows, positive rate, seconds
    threshold: Mapped[float | None] = mapped_column(Double)
    threshold_method: Mapped[str | None] = mapped_column(Text)
    estimator: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    library_version: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    trained_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )


class Prediction(Base):
    """A model's prediction for one customer of its test cutoff's population, with the label
    the customer actually had (and the baseline's probability, for comparison)."""

    __tablename__ = "predictions"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "model_id", "customer_id"),
        ForeignKeyConstraint(
            ["org_id", "model_id"],
            ["prediction_models.org_id", "prediction_models.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["org_id", "customer_id"], ["customers.org_id", "customers.id"], ondelete="CASCADE"
        ),
        Index("ix_predictions_org_id_customer_id", "org_id", "customer_id"),
    )

    org_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    model_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    probability: Mapped[float] = mapped_column(Double, nullable=False)
    predicted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    actual: Mapped[bool] = mapped_column(Boolean, nullable=False)
    baseline_probability: Mapped[float] = mapped_column(Double, nullable=False)
    baseline_predicted: Mapped[bool] = mapped_column(Boolean, nullable=False)
