"""The pipelines' YAML configuration (configs/*.yaml), validated early with messages that name the bad value."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Dict, List, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or holds a bad value."""


DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"  # model names double as deployment names (Kubernetes labels)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelCard(_Section):
    # The one place a model name is declared; its deployment is named after it, so it must be a DNS-1123 label.
    name: str = Field(pattern=DNS_LABEL, max_length=50)
    description: str = ""
    license: str = "Apache-2.0"
    tags: List[str] = []
    audience: str = ""
    use_cases: str = ""
    limitations: str = ""
    ethics: str = ""


class DataSection(_Section):
    source: str = "synthetic"
    target: Optional[str] = None
    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    n_rows: int = Field(5000, ge=100, le=50_000_000)
    seed: int = 42
    drop_columns: List[str] = []  # columns never used as features (e.g. a leak), with `train --drop COLUMN`


class ValidationSection(_Section):
    min_rows: int = Field(50, ge=1)
    max_null_fraction: float = Field(0.5, ge=0.0, le=1.0)  # a column with more missing values is dropped
    leakage_threshold: float = Field(0.99, gt=0.5, le=1.0)  # warn when one feature alone predicts the target this well
    null_slack: float = Field(0.1, ge=0.0, le=1.0)
    range_slack: float = Field(1.0, ge=0.0)


class SplitSection(_Section):
    method: Literal["random", "time"] = "random"  # time: train on the past, hold out the most recent rows
    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    seed: int = 42
    time_column: Optional[str] = None  # time split: None = the detected timestamp column (else the row order)
    holdout_rows: Optional[int] = Field(None, ge=1)  # time split: hold out this many rows instead of test_size


class SearchSection(_Section):
    method: Literal["grid", "random", "optuna"] = "grid"  # optuna: seeded TPE, `n_iter` trials
    cv_folds: int = Field(3, ge=2, le=20)
    n_iter: int = Field(8, ge=1)  # random: candidates drawn; optuna: trials
    scoring: Optional[str] = None
    space: Dict[str, List[Any]] = {}


class CalibrationSection(_Section):
    # Methods tried on the final classifier (sklearn CalibratedClassifierCV on the frozen model); empty: no
    # calibration. A calibrated model is kept only when it lowers the holdout log loss.
    methods: List[Literal["sigmoid", "isotonic"]] = []
    share: float = Field(0.2, gt=0.0, lt=1.0)  # share of the training rows set aside (seeded) to fit the calibrator

    @property
    def enabled(self) -> bool:
        return bool(self.methods)


class TrainingSection(_Section):
    estimator: str = "hist_gradient_boosting"
    params: Dict[str, Any] = {}
    search: SearchSection = SearchSection()
    calibration: CalibrationSection = CalibrationSection()
    seed: int = 42


CHECK_NAME = r"^[A-Za-z0-9_.-]+$"  # check names become MLflow metric names


class InvarianceCheck(_Section):
    """Setting `column` to each of `values` (default: its values in the holdout) must not move any prediction by
    more than `tolerance` on more than `max_share` of the rows."""

    kind: Literal["invariance"]
    name: str = Field(pattern=CHECK_NAME)
    column: str
    values: List[Any] = []
    tolerance: float = Field(0.05, ge=0.0)  # largest move of any class probability (or of the regression output)
    max_share: float = Field(0.05, ge=0.0, le=1.0)


class DirectionCheck(_Section):
    """Adding `delta` to numeric `feature` must not move the positive-class probability (multiclass: `label`'s;
    regression: the output) against `expect` on fewer than `min_share` of the rows."""

    kind: Literal["direction"]
    name: str = Field(pattern=CHECK_NAME)
    feature: str
    delta: float
    expect: Literal["increase", "decrease"]
    min_share: float = Field(0.9, ge=0.0, le=1.0)
    tolerance: float = Field(0.0, ge=0.0)  # a move against `expect` this small still counts as kept
    label: Optional[str] = None


class MinMetricCheck(_Section):
    """On named cases (`query` on the holdout rows, or a `cases` CSV with features and target) `metric` (any
    holdout metric of the task) must reach `minimum`."""

    kind: Literal["min_metric"]
    name: str = Field(pattern=CHECK_NAME)
    query: Optional[str] = None
    cases: Optional[str] = None  # CSV path, relative to the project root
    metric: str = "accuracy"
    minimum: float
    min_rows: int = Field(10, ge=1)  # fewer cases: the check fails (it cannot show the behaviour)

    @model_validator(mode="after")
    def _one_source(self) -> "MinMetricCheck":
        if (self.query is None) == (self.cases is None):
            raise ValueError(f"behaviour check '{self.name}': set exactly one of `query` and `cases`")
        return self


BehaviourCheck = Annotated[Union[InvarianceCheck, DirectionCheck, MinMetricCheck], Field(discriminator="kind")]


class EvaluationSection(_Section):
    min_slice_rows: int = Field(30, ge=1)  # fewer holdout rows: a slice's metric is noise, neither reported nor gated
    numeric_slice_bins: int = Field(0, ge=0, le=20)  # quantile bins per numeric feature (0: numeric not sliced)
    slice_bins: Dict[str, int] = {}  # per-feature bin count, overriding numeric_slice_bins (0: not sliced)
    importance_repeats: int = Field(5, ge=1)  # permutation-importance shuffles per column
    importance_max_rows: int = Field(5000, ge=10)  # larger holdouts are subsampled (seeded) for importance
    importance_seed: int = 0
    behaviour_checks: List[BehaviourCheck] = []

    @model_validator(mode="after")
    def _unique_names(self) -> "EvaluationSection":
        names = [c.name for c in self.behaviour_checks]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"behaviour_checks: names must be unique; repeated: {', '.join(repeated)}")
        bad = {k: v for k, v in self.slice_bins.items() if not 0 <= v <= 20}
        if bad:
            raise ValueError(f"slice_bins: bin counts must be between 0 and 20, got {bad}")
        return self


class TrainingConfig(_Section):
    model: ModelCard
    data: DataSection = DataSection()
    validation: ValidationSection = ValidationSection()
    split: SplitSection = SplitSection()
    training: TrainingSection = TrainingSection()
    evaluation: EvaluationSection = EvaluationSection()
    enable_cache: bool = True
    experiment_name: Optional[str] = None


class GateSection(_Section):
    # absolute holdout thresholds the challenger must meet, per task: {binary: {roc_auc: 0.7}, regression: {r2: 0.3}}
    min_metrics: Dict[Literal["binary", "multiclass", "regression"], Dict[str, float]] = {}
    min_improvement: float = Field(0.0, ge=0.0)  # margin over the champion on the primary metric
    max_previous_loss: float = Field(0.05, ge=0.0)  # largest primary-metric loss allowed on the previous holdout
    min_comparison_rows: int = Field(30, ge=1)  # fewer rows unseen by both models: no fair comparison, no deploy
    # largest primary-metric loss to the champion allowed on any slice (categorical values and numeric bins); None:
    # slices are not gated
    max_slice_loss: Optional[float] = Field(None, ge=0.0)
    min_slice_rows: int = Field(30, ge=1)  # slices with fewer comparison rows are noise: never gated
    block_on_behaviour: bool = False  # refuse a challenger that failed a behaviour check of its training config
    parity_tolerance: float = Field(1e-6, ge=0.0)


class RecordingSection(_Section):
    """What the endpoint records of the traffic it serves (serving/recorder.py), for `run.py monitor --live`."""

    enabled: bool = True  # false: no window profiles, no prediction ids, no prediction log
    sample: float = Field(1.0, ge=0.0, le=1.0)  # share of requests recorded
    window_seconds: float = Field(300.0, ge=1.0)  # length of one profile window
    log_retention_hours: float = Field(168.0, gt=0)  # prediction log (ids, features, predictions) kept this long
    log_max_mb: float = Field(256.0, gt=0)  # ... and at most this much per worker (oldest files go first)
    write_seconds: float = Field(5.0, gt=0)  # how often an open window's profile is rewritten

    def daemon_settings(self) -> Dict[str, float]:
        """The serving recorder's settings (RecorderSettings fields), without the on/off switch."""
        return self.model_dump(exclude={"enabled"})


class ServingSection(_Section):
    # The endpoint name is not configured here: each model gets its own deployment, named after the model
    # (core.names.deployment_name_for) unless `run.py deploy --deployment-name` chose another on its first deploy.
    timeout_seconds: float = Field(300.0, gt=0)
    parity_rows: int = Field(200, ge=1)
    replicas: int = Field(1, ge=1)
    workers: Optional[int] = Field(None, ge=1)
    threads: Optional[int] = Field(None, ge=1)
    rollout: Literal["replace", "canary", "shadow"] = "replace"
    canary_traffic_percent: int = Field(10, ge=1, le=99)
    recording: RecordingSection = RecordingSection()  # local backend: what the endpoint records for live monitoring


# Metrics an A/B test can judge: each has a sample-size formula (steps/abtest/statistics.py) and is computed per
# request from the labels that feedback brings back.
ABTEST_METRICS = ("accuracy", "roc_auc", "rmse", "mae")


class GuardrailsSection(_Section):
    # abort when the challenger's error rate exceeds the champion's by more than this (absolute, 0.01 = 1 point)
    max_error_rate_increase: float = Field(0.01, ge=0.0, lt=1.0)
    max_p99_latency_ratio: float = Field(1.5, ge=1.0)  # abort when challenger p99 > ratio x champion p99
    min_requests: int = Field(200, ge=1)  # requests per variant before rates and p99 are compared


class ABTestSection(_Section):
    split_percent: int = Field(10, ge=1, le=99)  # share of requests routed to the challenger
    # e.g. X-User-Id: one value always sees one variant. A plain header name: it is written into the ingress config.
    sticky_header: Optional[str] = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$", max_length=64)
    metric: Optional[Literal[ABTEST_METRICS]] = None  # None: accuracy (classification) or rmse (regression)
    min_detectable_effect: float = Field(0.02, gt=0.0)  # absolute, in metric units
    alpha: float = Field(0.05, gt=0.0, lt=0.5)  # two-sided significance
    power: float = Field(0.8, gt=0.5, lt=1.0)
    guardrails: GuardrailsSection = GuardrailsSection()


class DeploymentConfig(_Section):
    """How any model is gated and served; which model is a command-line choice (`--model-name`)."""

    gate: GateSection = GateSection()
    serving: ServingSection = ServingSection()
    abtest: ABTestSection = ABTestSection()
    enable_cache: bool = False


class DriftSection(_Section):
    default_threshold: float = Field(0.1, gt=0.0, le=1.0)
    thresholds: Dict[str, float] = {}
    prediction_threshold: float = Field(0.15, gt=0.0, le=1.0)


class PolicySection(_Section):
    alert_drift_share: float = Field(0.1, gt=0.0, le=1.0)
    retrain_drift_share: float = Field(0.3, gt=0.0, le=1.0)
    retrain_on_decay: bool = True
    # decay estimated without labels (CBPE/DLE, its whole band past max_drop); realized decay wins when labels exist
    alert_on_estimated_decay: bool = True
    retrain_on_estimated_decay: bool = False
    alert_on_unseen_categories: bool = True
    alert_on_prediction_drift: bool = True

    @model_validator(mode="after")
    def _alert_before_retrain(self) -> "PolicySection":
        if self.alert_drift_share > self.retrain_drift_share:
            raise ValueError(f"alert_drift_share ({self.alert_drift_share}) must not exceed retrain_drift_share "
                             f"({self.retrain_drift_share})")
        return self


class RetrainSection(_Section):
    recent_batches: int = Field(3, ge=1, le=100)
    split: Literal["time", "random"] = "time"  # time: the newest holdout_share of new rows is the recent window
    holdout_share: float = Field(0.3, gt=0.0, lt=1.0)


class SimulationSection(_Section):
    rows_per_day: int = Field(1000, ge=50)
    drift_per_day: float = Field(0.15, ge=0.0, le=1.0)
    seed: int = 100


DURATION = r"^([0-9]+(ms|s|m|h|d|w|y))+$"  # Prometheus/Alertmanager durations: 30s, 5m, 1h30m


class AlertsSection(_Section):
    """Where alerts go: Alertmanager's receiver (`run.py monitoring up`) and the stacks' webhook alerter."""

    # None: alerts are kept in Alertmanager (its UI, amtool) and the alerter says once that nothing is sent
    webhook_url: Optional[str] = Field(None, pattern=r"^https?://[^\s/]+(/\S*)?$")
    # slack: Slack-compatible JSON (Alertmanager's slack receiver; the alerter's {"text": ...}); webhook:
    # Alertmanager's own webhook JSON (alerts with labels and annotations), for a receiver that reads it
    format: Literal["slack", "webhook"] = "slack"
    group_wait: str = Field("30s", pattern=DURATION)  # wait for more alerts of a group before the first message
    group_interval: str = Field("5m", pattern=DURATION)  # wait before telling about new alerts of a group
    repeat_interval: str = Field("4h", pattern=DURATION)  # a still-firing alert is repeated this often
    timeout_seconds: float = Field(5.0, gt=0, le=60)  # the alerter's post; a dead receiver never holds a pipeline


class MonitoringConfig(_Section):
    """How any served model is watched; which model is a command-line choice (`--model-name`)."""

    drift: DriftSection = DriftSection()
    max_drop: Dict[Literal["binary", "multiclass", "regression"], Dict[str, float]] = {}
    policy: PolicySection = PolicySection()
    retrain: RetrainSection = RetrainSection()
    simulation: SimulationSection = SimulationSection()
    alerts: AlertsSection = AlertsSection()


def _format(error: ValidationError, path: Path) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        got = f" (got {item['input']!r})" if "input" in item and not isinstance(item["input"], dict) else ""
        lines.append(f"{path.name}: {where}: {item['msg']}{got}")
    return "\n".join(lines)


def load_config(name_or_path: str | Path, schema: type[BaseModel], overrides: Dict[str, Any] | None = None):
    """Reads configs/<name>.yaml (or a path), applies dotted `overrides` ({'data.source': 'x.csv'}), validates."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(f"configuration file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format(exc, path)) from None
