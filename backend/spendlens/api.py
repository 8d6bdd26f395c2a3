"""Mounts every domain router under /api/v1."""

from fastapi import APIRouter

from spendlens.errors import error_responses

from spendlens.alerts.endpoints import router as alerts_router
from spendlens.auth.endpoints import router as auth_router
from spendlens.catalog.endpoints import router as catalog_router
from spendlens.cohorts.endpoints import router as cohorts_router
from spendlens.clv.endpoints import router as clv_router
from spendlens.customers.endpoints import router as customers_router
from spendlens.events.endpoints import router as events_router
from spendlens.exports.endpoints import router as exports_router
from spendlens.health.endpoints import customer_health_router
from spendlens.health.endpoints import router as health_router
from spendlens.imports.endpoints import router as imports_router
from spendlens.jobs.endpoints import router as jobs_router
from spendlens.journey.endpoints import customer_stages_router
from spendlens.journey.endpoints import router as journey_router
from spendlens.metrics.endpoints import router as metrics_router
from spendlens.prediction.endpoints import customer_prediction_router
from spendlens.prediction.endpoints import router as models_router
from spendlens.segments.endpoints import customer_rfm_router
from spendlens.segments.endpoints import router as segments_router
from spendlens.subscriptions.endpoints import router as plans_router
from spendlens.transactions.endpoints import router as transactions_router
from spendlens.users.endpoints import router as users_router

API_PREFIX = "/api/v1"

# Statuses any route may answer, whatever it does: a body that is not JSON (400), values that fail
# validation (422), a rate limit (429) and the database being unreachable or saturated (503).
api_router = APIRouter(prefix=API_PREFIX, responses=error_responses(400, 422, 429, 503))
api_router.include_router(auth_router)
api_router.include_router(users_router)
api_router.include_router(transactions_router)
# Before the customers router: /customers/rfm must be matched before /customers/{customer_id}.
api_router.include_router(customer_rfm_router)
api_router.include_router(customers_router)
api_router.include_router(metrics_router)
api_router.include_router(catalog_router)
api_router.include_router(jobs_router)
api_router.include_router(imports_router)
api_router.include_router(exports_router)
api_router.include_router(segments_router)
api_router.include_router(cohorts_router)
api_router.include_router(clv_router)
api_router.include_router(events_router)
api_router.include_router(plans_router)
api_router.include_router(customer_stages_router)
api_router.include_router(journey_router)
api_router.include_router(models_router)
api_router.include_router(customer_prediction_router)
api_router.include_router(alerts_router)
api_router.include_router(customer_health_router)
api_router.include_router(health_router)
