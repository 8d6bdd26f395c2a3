"""SQLAlchemy mapped classes; importing this package registers every table on Base.metadata."""

from spendlens.models.alerts import (
    Alert,
    AlertDelivery,
    AlertDestination,
    AlertRule,
    AlertRuleState,
)
from spendlens.models.base import Base
from spendlens.models.clv import ClvEstimate, ClvFit
from spendlens.models.customer import Customer, Merchant
from spendlens.models.events import Event, EventId, IngestKey
from spendlens.models.health import HEALTH_BANDS, HealthComputation, HealthScore, HealthSettings
from spendlens.models.job import Job
from spendlens.models.journey import (
    CustomerMilestones,
    CustomerStage,
    JourneyDailyStage,
    JourneyDailyTransition,
    JourneyPending,
    JourneySettings,
)
from spendlens.models.organization import Organization
from spendlens.models.prediction import Prediction, PredictionModel
from spendlens.models.segments import RFM_SEGMENTS, RfmScore, RfmSettings, RfmSnapshot
from spendlens.models.subscriptions import Invoice, Payment, Plan, Shop
from spendlens.models.transaction import Transaction
from spendlens.models.user import Invitation, LoginFailure, Role, User

__all__ = [
    "Alert",
    "AlertDelivery",
    "AlertDestination",
    "AlertRule",
    "AlertRuleState",
    "Base",
    "ClvEstimate",
    "ClvFit",
    "Customer",
    "CustomerMilestones",
    "CustomerStage",
    "Event",
    "EventId",
    "HEALTH_BANDS",
    "HealthComputation",
    "HealthScore",
    "HealthSettings",
    "IngestKey",
    "Invoice",
    "Invitation",
    "Job",
    "JourneyDailyStage",
    "JourneyDailyTransition",
    "JourneyPending",
    "JourneySettings",
    "LoginFailure",
    "Merchant",
    "Organization",
    "Payment",
    "Plan",
    "Prediction",
    "PredictionModel",
    "RFM_SEGMENTS",
    "RfmScore",
    "RfmSettings",
    "RfmSnapshot",
    "Role",
    "Shop",
    "Transaction",
    "User",
]
