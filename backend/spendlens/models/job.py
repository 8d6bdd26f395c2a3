"""Background jobs: long work (imports, later recomputes) with state and progress per org."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from spendlens.models.base import Base, TimestampMixin

JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")


class Job(TimestampMixin, Base):
    __tablename__ = "jobs"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        CheckConstraint(
            "state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')", name="state"
        ),
        CheckConstraint("processed >= 0 AND error_count >= 0", name="counts_not_negative"),
        Index("ix_jobs_org_id_created_at", "org_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    # What the job was asked to do (file name, format, options), as shown to the user.
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    processed: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    total: Mapped[int | None] = mapped_column(BigInteger)
    # Problems found in the input, [{row, column, value, reason}], capped; error_count is exact.
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, default=list)
    error_count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # How many times a worker started the job (a retry after a crash makes it 2).
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The procrastinate queue's job (procrastinate_jobs.id); not a foreign key because
    # procrastinate may delete finished jobs.
    queue_job_id: Mapped[int | None] = mapped_column(BigInteger)
