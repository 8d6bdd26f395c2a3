"""Lifecycle and usage events sent in by an organisation's own systems, the registry that makes
sending an event twice harmless, and the ingest keys those systems authenticate with.

`events` is range-partitioned by month of `occurred_at` (partitions `events_pYYYYMM`, plus
`events_default` for anything outside them; see spendlens.events.partitions). A partitioned table
cannot hold a unique key on `event_id` alone, so `event_ids` is the idempotency registry.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    PrimaryKeyConstraint,
    String,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from spendlens.models.base import Base, TimestampMixin

EVENT_TYPE_LENGTH = 64
INGEST_KEY_NAME_LENGTH = 100
INGEST_KEY_PREFIX_LENGTH = 16

# The partitions of `events` are tables of their own that the models do not declare.
EVENT_PARTITION_NAME = re.compile(r"^events_(p\d{6}|default)$")


class Event(Base):
    """One event of one customer. Written in bulk by SQL (spendlens.events.repository); the
    mapped class is for reading and for the schema."""

    __tablename__ = "events"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "occurred_at", "event_id"),
        ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            ondelete="CASCADE",
        ),
        Index("ix_events_org_customer_occurred", "org_id", "customer_id", "occurred_at"),
        Index("ix_events_org_type_occurred", "org_id", "type", "occurred_at"),
        {"postgresql_partition_by": "RANGE (occurred_at)"},
    )

    org_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    type: Mapped[str] = mapped_column(String(EVENT_TYPE_LENGTH), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    properties: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )


class EventId(Base):
    """Every event id an organisation has sent, once: the first sending wins.

    No foreign key to organizations: its check would cost a trigger call per ingested event (a
    third of the insert), and organisation ids are never reused."""

    __tablename__ = "event_ids"
    __table_args__ = (PrimaryKeyConstraint("org_id", "event_id"),)

    org_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class IngestKey(TimestampMixin, Base):
    """A per-organisation secret that may post events and nothing else. Only its SHA-256 is
    stored; the secret is shown once, to the admin who created it."""

    __tablename__ = "ingest_keys"
    __table_args__ = (PrimaryKeyConstraint("org_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(INGEST_KEY_NAME_LENGTH), nullable=False)
    # Looked up before the organisation is known (the key is all a request carries), like a
    # user's email: unique across organisations.
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    prefix: Mapped[str] = mapped_column(String(INGEST_KEY_PREFIX_LENGTH), nullable=False)
    created_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
