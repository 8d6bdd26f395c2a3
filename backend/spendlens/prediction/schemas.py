"""Bodies of the /models routes and of a customer's predictions."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from spendlens.kit.dates import Day, UtcDatetime
from spendlens.prediction.features import Target

MAX_TRAIN_CUTOFFS = 36


class ModelState(str, Enum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class PredictionCutoff(str, Enum):
    test = "test"


class TrainRequest(BaseModel):
    """What to train: a target, the later cutoff it is tested on, and the earlier cutoffs it is
    trained on (default: monthly cutoffs in the year before the test cutoff whose label windows
    end on or before it)."""

    model_config = ConfigDict(extra="forbid")

    target: Target = Field(description="`purchase_30d` or `churn_90d`")
    test_cutoff: Day = Field(
        description="The test cutoff C (end of UTC day C); its label window must end before today"
    )
    train_cutoffs: list[Day] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TRAIN_CUTOFFS,
        description="Training cutoffs; each label window must end on or before the test cutoff",
    )


class ConfusionMatrix(BaseModel):
    tn: int
    fp: int
    fn: int
    tp: int


class CalibrationBin(BaseModel):
    lower: float
    upper: float
    rows: int
    mean_predicted: float | None
    fraction_positive: float | None


class Metrics(BaseModel):
    """One classifier's figures on the test cutoff, at its decision threshold."""

    rows: int
    positives: int
    positive_rate: float | None
    threshold: float
    accuracy: float
    precision: float
    recall: float
    f1: float
    f1_all_positive: float = Field(description="The F1 of predicting yes for everyone")
    roc_auc: float | None = Field(description="Null when the test cutoff has one class only")
    pr_auc: float | None = Field(description="Average precision; null with one class only")
    confusion_matrix: ConfusionMatrix
    calibration: list[CalibrationBin]
    train_out_of_fold_f1: float | None = Field(
        description="F1 of the training cutoffs' out-of-fold probabilities at the threshold"
    )


class Importance(BaseModel):
    feature: str
    importance: float | None = Field(
        description="Mean drop of ROC AUC when the feature is shuffled"
    )
    std: float | None


class ModelMetrics(BaseModel):
    model: Metrics
    baseline: Metrics


class ModelImportances(BaseModel):
    model: list[Importance]
    baseline: list[Importance]


class TrainingWindow(BaseModel):
    train_cutoffs: list[date]
    test_cutoff: date
    horizon_days: int
    first_day: date = Field(description="The first training cutoff")
    last_label_day: date = Field(description="The last day of the test cutoff's label window")


class ModelOut(BaseModel):
    id: int
    job_id: int
    version: int = Field(description="1, 2, … per target")
    target: Target
    state: ModelState
    active: bool
    error: str | None
    algorithm: str
    baseline_algorithm: str
    features: list[str]
    baseline_features: list[str]
    parameters: dict[str, Any]
    training_window: TrainingWindow
    threshold: float | None
    threshold_method: str | None
    metrics: ModelMetrics | None
    importances: ModelImportances | None
    training: dict[str, Any] | None = Field(
        description="Training rows, positives per cutoff, test rows, seconds per phase"
    )
    library_version: str | None = Field(description="scikit-learn version that fitted it")
    created_at: UtcDatetime
    trained_at: UtcDatetime | None


class PredictionOut(BaseModel):
    customer_id: int
    probability: float
    predicted: bool
    actual: bool
    baseline_probability: float
    baseline_predicted: bool


class CustomerTargetPrediction(BaseModel):
    target: Target
    model_id: int
    model_version: int
    active: bool = Field(description="False: no active model, so the latest trained one")
    in_population: bool = Field(
        description="False when the customer is outside the target's population today (then "
        "no probability)"
    )
    probability: float | None
    predicted: bool | None
    threshold: float


class CustomerPredictionOut(BaseModel):
    customer_id: int
    as_of: date = Field(description="The cutoff scored: the end of today (UTC)")
    predictions: list[CustomerTargetPrediction] = Field(
        description="One per target with a trained model"
    )
