"""Artifact names: one place, so pipelines, steps and the monitoring lookups agree."""

DATASET = "dataset"
DATA_SCHEMA = "data_schema"
DATA_FINGERPRINT = "data_fingerprint"
DATA_PROFILE = "data_profile"
VALIDATION_REPORT = "validation_report"
TRAIN_SET = "train_set"
HOLDOUT_SET = "holdout_set"
SPLIT_MANIFEST = "split_manifest"
MODEL = "model"
UNCALIBRATED_MODEL = "uncalibrated_model"
CALIBRATION_REPORT = "calibration_report"
SEARCH_REPORT = "search_report"
EVALUATION_REPORT = "evaluation_report"
HOLDOUT_PREDICTIONS = "holdout_predictions"
REGISTERED_MODEL = "registered_model"
MODEL_CARD = "model_card"
DEPLOYMENT_DECISION = "deployment_decision"
DEPLOYMENT_INFO = "deployment_info"
BATCH_PROFILE = "batch_profile"
BATCH_PREDICTIONS = "batch_predictions"
DRIFT_REPORT = "drift_report"
PREDICTION_DRIFT_REPORT = "prediction_drift_report"
DECAY_REPORT = "decay_report"
ESTIMATED_DECAY_REPORT = "estimated_decay_report"
MONITORING_DECISION = "monitoring_decision"
LIVE_WINDOWS = "live_windows"  # which recorded windows a live check read
LIVE_CHECKPOINT = "live_checkpoint"  # where the next live check starts
SIMULATION_TIMELINE = "simulation_timeline"
# Batch inference outputs are linked to the ZenML model version that scored them: their names must differ from the
# training artifacts' (a model version's `get_artifact(name)` answers with the latest artifact of that name).
INFERENCE_BATCH = "inference_batch"
INFERENCE_VALIDATION_REPORT = "inference_validation_report"
PREDICTIONS = "predictions"

PRODUCTION_STAGE = "production"


def deployment_name_for(model_name: str) -> str:
    """Each registered model serves behind its own endpoint, named after it (model names are DNS-1123 labels)."""
    return model_name

ABTEST_RESULT = "abtest_result"  # an A/B test's verdict, health, guardrails and plan (HTML view), on both versions
ABTEST_MLFLOW_RUN = "abtest_mlflow_run"
