"""The lifecycle-stage rules: a customer's stage history derived from their events alone.

A pure function of the events (no database), so the same rules serve the rebuild job, the tests and
anyone reading them. The rules (also in the README, "Customer journey"):

- Events are applied in order of `occurred_at`, ties in order of `event_id`. The stage *at* an
  instant T is the stage after every event with `occurred_at <= T` (and every churn deadline
  `<= T`, below).
- **lead** from the customer's first event, whatever its type (normally `signed_up`).
- **prospect** at the first `plan_selected` or `shop_created` of a lead.
- **customer** at a `payment_succeeded` of a lead or prospect.
- **churned** (from any stage but churned)
  - at an `account_deleted` (which also closes all their shops);
  - at a `shop_deleted` that closes their last open shop (shops are opened by `shop_created`
    and named by `shop_id`; deleting a shop that is not open changes nothing);
  - exactly `churn_after_days` days after their latest `payment_succeeded`, when no other
    `payment_succeeded` occurs at or before that instant (a customer only: leads and prospects
    have paid nothing).
- A churned customer's `payment_succeeded` makes them a **customer** again: a *reactivation*.
  Nothing else leaves churned (a new shop of a churned customer opens a shop, nothing more).
- Every other event (`payment_failed`, `login`, `feature_used`, support tickets, `custom.*`) only
  counts as the customer's first event; `signed_up` after the first event changes nothing.

Several changes at one instant leave only the last one as an interval (the stage at that instant),
but each still counts as a milestone: a customer whose first event is a payment was a lead, a
prospect and a customer at the same instant. A churn deadline lies ahead of the last event: the
churned interval is part of the history from the start (it begins in the future), so "as of" any
instant, past or future, reads off the intervals with no job having to run at the deadline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from spendlens.models.rules import LifecycleStage as Stage

STAGE_ORDER = (Stage.lead, Stage.prospect, Stage.customer, Stage.churned)
DEFAULT_CHURN_AFTER_DAYS = 60
MAX_CHURN_AFTER_DAYS = 3650

# The event types the rules look at (every other type only starts a customer's history).
SIGNED_UP = "signed_up"
PLAN_SELECTED = "plan_selected"
SHOP_CREATED = "shop_created"
PAYMENT_SUCCEEDED = "payment_succeeded"
SHOP_DELETED = "shop_deleted"
ACCOUNT_DELETED = "account_deleted"
STAGE_EVENT_TYPES = (
    SIGNED_UP,
    PLAN_SELECTED,
    SHOP_CREATED,
    PAYMENT_SUCCEEDED,
    SHOP_DELETED,
    ACCOUNT_DELETED,
)


@dataclass(frozen=True)
class EventFact:
    """What the rules need of one event."""

    occurred_at: datetime
    event_id: str
    type: str
    shop_id: str | None = None


@dataclass(frozen=True)
class StageInterval:
    """The customer was in `stage` from `valid_from` (included) to `valid_to` (excluded; None:
    still is). `reactivation`: a customer interval that followed churned."""

    stage: Stage
    valid_from: datetime
    valid_to: datetime | None
    reactivation: bool = False


@dataclass(frozen=True)
class Milestones:
    """When the customer first appeared, first reached prospect (or further: a lead who pays at
    once went through prospect) and first became a customer; None: not (yet)."""

    first_seen_at: datetime | None = None
    prospect_at: datetime | None = None
    customer_at: datetime | None = None
    reactivations: int = 0


@dataclass
class Journey:
    intervals: list[StageInterval] = field(default_factory=list)
    milestones: Milestones = field(default_factory=Milestones)


@dataclass
class _Replay:
    """The running state while events are applied (only `derive_journey` uses it)."""

    churn_after: timedelta
    changes: list[tuple[datetime, Stage, bool]] = field(default_factory=list)
    stage: Stage | None = None
    open_shops: set[str] = field(default_factory=set)
    deadline: datetime | None = None
    first_seen_at: datetime | None = None
    prospect_at: datetime | None = None
    customer_at: datetime | None = None
    reactivations: int = 0

    def move(self, at: datetime, stage: Stage) -> None:
        reactivation = self.stage is Stage.churned and stage is Stage.customer
        self.stage = stage
        self.changes.append((at, stage, reactivation))
        if reactivation:
            self.reactivations += 1
        if stage in (Stage.prospect, Stage.customer) and self.prospect_at is None:
            self.prospect_at = at
        if stage is Stage.customer and self.customer_at is None:
            self.customer_at = at

    def pass_deadline_before(self, at: datetime | None) -> None:
        """Churn at the pending deadline if it falls before `at` (None: no further event)."""
        if self.deadline is not None and (at is None or self.deadline < at):
            if self.stage is Stage.customer:
                self.move(self.deadline, Stage.churned)
            self.deadline = None

    def apply(self, event: EventFact) -> None:
        at = event.occurred_at
        if self.stage is None:
            self.first_seen_at = at
            self.move(at, Stage.lead)
        kind = event.type
        if kind in (PLAN_SELECTED, SHOP_CREATED):
            if kind == SHOP_CREATED and event.shop_id is not None:
                self.open_shops.add(event.shop_id)
            if self.stage is Stage.lead:
                self.move(at, Stage.prospect)
        elif kind == PAYMENT_SUCCEEDED:
            if self.stage is not Stage.customer:
                self.move(at, Stage.customer)
            self.deadline = at + self.churn_after
        elif kind == SHOP_DELETED:
            if event.shop_id is not None and event.shop_id in self.open_shops:
                self.open_shops.discard(event.shop_id)
                if not self.open_shops:
                    self.churn(at)
        elif kind == ACCOUNT_DELETED:
            self.open_shops.clear()
            self.churn(at)

    def churn(self, at: datetime) -> None:
        if self.stage is not Stage.churned:
            self.move(at, Stage.churned)
        self.deadline = None


def _ordered(events: Iterable[EventFact]) -> list[EventFact]:
    return sorted(events, key=lambda e: (e.occurred_at, e.event_id))


def derive_journey(events: Iterable[EventFact], churn_after_days: int) -> Journey:
    """The stage intervals and milestones of one customer from all of their events."""
    replay = _Replay(churn_after=timedelta(days=churn_after_days))
    for event in _ordered(events):
        replay.pass_deadline_before(event.occurred_at)
        replay.apply(event)
    replay.pass_deadline_before(None)
    return Journey(
        intervals=_intervals(replay.changes),
        milestones=Milestones(
            first_seen_at=replay.first_seen_at,
            prospect_at=replay.prospect_at,
            customer_at=replay.customer_at,
            reactivations=replay.reactivations,
        ),
    )


def _intervals(changes: list[tuple[datetime, Stage, bool]]) -> list[StageInterval]:
    """Changes → intervals: of several changes at one instant only the last one lasts (a
    reactivation among them still marks the interval)."""
    lasting: list[tuple[datetime, Stage, bool]] = []
    for at, stage, reactivation in changes:
        if lasting and lasting[-1][0] == at:
            reactivation = reactivation or lasting[-1][2]
            lasting.pop()
        if lasting and lasting[-1][1] is stage:
            continue  # e.g. churned → customer → churned at one instant: nothing changed
        lasting.append((at, stage, reactivation and stage is Stage.customer))
    intervals = []
    for index, (at, stage, reactivation) in enumerate(lasting):
        until = lasting[index + 1][0] if index + 1 < len(lasting) else None
        intervals.append(StageInterval(stage, at, until, reactivation))
    return intervals


def stage_at(intervals: list[StageInterval], instant: datetime) -> Stage | None:
    """The stage at `instant` (None: the customer did not exist yet)."""
    for interval in intervals:
        if interval.valid_from <= instant and (
            interval.valid_to is None or instant < interval.valid_to
        ):
            return interval.stage
    return None
