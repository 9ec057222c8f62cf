"""Every metric name the alert rules and the dashboard refer to, in one place.

The endpoint metrics are exported by the Seldon microservice from the custom metrics `serving.model.SeldonModel`
returns (Seldon exposes a TIMER as a histogram in seconds). The batch metrics are pushed by `monitoring.push`.
Tests check that alerts.yml and the Grafana dashboard only use names from here.
"""

# Scrape job of the model endpoints (file_sd targets written by monitoring.local.write_scrape_targets).
ENDPOINT_JOB = "seldon"
# Label naming the model on every series: Seldon sets it on endpoint metrics, the monitoring pipeline pushes its
# batch results grouped by it. Alert annotations and dashboard legends refer to it.
MODEL_LABEL = "model_name"
PUSHGATEWAY_JOB = "pushgateway"
# Grouping label of results pushed by `monitor --live` (source="live"), so the traffic the endpoint served has its own
# series over time beside the batches handed over (no source label); the Grafana "live drift" panel selects it.
SOURCE_LABEL = "source"
LIVE_SOURCE = "live"

# Endpoint (scraped): counters and a latency histogram, labelled by Seldon with model_name, model_version, ...
MODEL_REQUESTS = "model_requests_total"
MODEL_ERRORS = "model_request_errors_total"
MODEL_LATENCY = "model_predict_latency_seconds"  # histogram: _bucket, _sum, _count
ENDPOINT_METRICS = (MODEL_REQUESTS, MODEL_ERRORS, MODEL_LATENCY)

# Batch monitoring results (pushed, one group per pipeline/model): gauges.
DRIFT_SHARE = "mlops_drift_share"
DRIFT_DETECTED = "mlops_drift_detected"
FEATURE_HELLINGER = "mlops_feature_hellinger"  # label feature=
FEATURE_DRIFTED = "mlops_feature_drifted"  # label feature=
PREDICTION_DRIFT_DETECTED = "mlops_prediction_drift_detected"
BATCH_ACCURACY = "mlops_batch_accuracy"
BATCH_ACCURACY_THRESHOLD = "mlops_batch_accuracy_threshold"
MODEL_DECAYED = "mlops_model_decayed"
DECISION = "mlops_monitoring_decision"  # label action=none|alert|retrain, value 1 for the chosen one
BATCH_ROWS = "mlops_batch_rows"
LAST_RUN_TIMESTAMP = "mlops_monitoring_last_run_timestamp_seconds"
# performance estimated without labels (CBPE / DLE): labels metric= (accuracy, roc_auc, mae, ...) and
# bound=estimate|lower|upper; 1 in ESTIMATED_DECAYED when the whole band is past the limit
ESTIMATED_METRIC = "mlops_estimated_metric"
ESTIMATED_DECAYED = "mlops_estimated_decayed"
BATCH_METRICS = (
    DRIFT_SHARE, DRIFT_DETECTED, FEATURE_HELLINGER, FEATURE_DRIFTED, PREDICTION_DRIFT_DETECTED, BATCH_ACCURACY,
    BATCH_ACCURACY_THRESHOLD, MODEL_DECAYED, DECISION, BATCH_ROWS, LAST_RUN_TIMESTAMP, ESTIMATED_METRIC,
    ESTIMATED_DECAYED,
)

# A/B tests (pushed by `run.py abtest status`, one group per model, job ABTEST_JOB): gauges with a `variant` label
# (champion | challenger) measured at the ingress since the test started, and the verdict.
ABTEST_JOB = "mlops_abtest"
VARIANT_LABEL = "variant"
ABTEST_REQUESTS = "mlops_abtest_requests"  # label variant=
ABTEST_ERRORS = "mlops_abtest_errors"  # label variant=
ABTEST_P99_SECONDS = "mlops_abtest_p99_latency_seconds"  # label variant=
ABTEST_LABELLED = "mlops_abtest_labelled_requests"  # label variant=
ABTEST_METRIC = "mlops_abtest_metric"  # labels variant=, metric=  (realized, from feedback labels)
ABTEST_VERDICT = "mlops_abtest_verdict"  # label verdict=, 1 for the current one
ABTEST_LAST_STATUS_TIMESTAMP = "mlops_abtest_last_status_timestamp_seconds"
ABTEST_METRICS = (ABTEST_REQUESTS, ABTEST_ERRORS, ABTEST_P99_SECONDS, ABTEST_LABELLED, ABTEST_METRIC, ABTEST_VERDICT,
                  ABTEST_LAST_STATUS_TIMESTAMP)

ALL_METRICS = ENDPOINT_METRICS + BATCH_METRICS + ABTEST_METRICS + ("up",)
