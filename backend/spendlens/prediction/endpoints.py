"""HTTP routes of /api/v1/models and /api/v1/customers/{customer_id}/prediction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from spendlens.auth.dependencies import AnalystUser, CurrentOrg, CurrentUser, OrgScope
from spendlens.db import SessionDep
from spendlens.errors import error_responses
from spendlens.kit.pagination import Page, PaginationDep
from spendlens.prediction import service
from spendlens.prediction.features import Target
from spendlens.prediction.schemas import (
    CustomerPredictionOut,
    ModelOut,
    PredictionCutoff,
    PredictionOut,
    TrainRequest,
)

router = APIRouter(prefix="/models", tags=["models"])
customer_prediction_router = APIRouter(prefix="/customers", tags=["models"])


@router.post(
    "/train",
    response_model=ModelOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(401, 403, 422),
)
def train_model(
    body: TrainRequest,
    user: AnalystUser,
    org: CurrentOrg,
    session: SessionDep,
    response: Response,
) -> ModelOut:
    """Train a model of `purchase_30d` or `churn_90d` beside its baseline, as a background job
    (analysts and admins).

    `purchase_30d`: among customers with a purchase on or before the cutoff C (end of UTC day
    C), did they buy in days C+1 … C+30. `churn_90d`: among customers with a purchase in days
    C-364 … C, did they make no purchase and send no event in days C+1 … C+90. Trained on the
    `train_cutoffs` (default: monthly cutoffs in the year before `test_cutoff` whose label
    windows end on or before it), tested on `test_cutoff` (its label window must end before
    today). Follow the model (or its job at `/jobs/{job_id}`) until its state is `done` or
    `failed`.
    """
    model = service.train(session, org, user, body)
    response.headers["Location"] = f"/api/v1/models/{model.id}"
    return model


@router.get("", response_model=Page[ModelOut], responses=error_responses(401, 422))
def list_models(
    user: CurrentUser,
    org_id: OrgScope,
    session: SessionDep,
    page: PaginationDep,
    target: Annotated[Target | None, Query(description="Only this target's models")] = None,
) -> Page[ModelOut]:
    """The organisation's trained (and queued) models, newest first."""
    items, total = service.list_models(
        session, org_id, target=target, skip=page.skip, limit=page.limit
    )
    return Page(items=items, total=total, skip=page.skip, limit=page.limit)


@router.get("/{model_id}", response_model=ModelOut, responses=error_responses(401, 404, 422))
def get_model(model_id: int, user: CurrentUser, org_id: OrgScope, session: SessionDep) -> ModelOut:
    """One model: state, target, algorithm, features, parameters, training window, threshold,
    and the metrics and feature importances of the model and of its baseline on the test
    cutoff."""
    return service.get_model(session, org_id, model_id)


@router.get(
    "/{model_id}/predictions",
    response_model=Page[PredictionOut],
    responses=error_responses(401, 404, 409, 422),
)
def list_predictions(
    model_id: int,
    user: CurrentUser,
    org_id: OrgScope,
    session: SessionDep,
    page: PaginationDep,
    cutoff: Annotated[
        PredictionCutoff, Query(description="`test`: the model's test cutoff (the only one kept)")
    ] = PredictionCutoff.test,
) -> Page[PredictionOut]:
    """Every customer of the test cutoff's population, by customer id: the model's
    probability, its prediction at the threshold, the actual label, and the baseline's. 409
    until the model is trained."""
    items, total = service.list_predictions(
        session, org_id, model_id, skip=page.skip, limit=page.limit
    )
    return Page(items=items, total=total, skip=page.skip, limit=page.limit)


@router.post(
    "/{model_id}/activate",
    response_model=ModelOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
def activate_model(
    model_id: int, user: AnalystUser, org_id: OrgScope, session: SessionDep
) -> ModelOut:
    """Make this trained model the one its target's customers are scored with (analysts and
    admins); the target's previously active model is deactivated. 409 until it is trained."""
    return service.activate(session, org_id, model_id)


@customer_prediction_router.get(
    "/{customer_id}/prediction",
    response_model=CustomerPredictionOut,
    responses=error_responses(401, 404, 409, 422),
)
def get_customer_prediction(
    customer_id: int, user: CurrentUser, org: CurrentOrg, session: SessionDep
) -> CustomerPredictionOut:
    """The customer scored as of the end of today (UTC) by each target's active model, else its
    latest trained one: the probability and the prediction at the model's threshold."""
    return service.customer_prediction(session, org, customer_id)
