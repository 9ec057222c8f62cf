"""Configuration loading: bad values are named with where they are and what was given."""

import pytest

from core.config import ConfigError, DeploymentConfig, TrainingConfig, load_config


def test_shipped_training_config_is_valid():
    config = load_config("training", TrainingConfig)
    assert config.model.name == "churn-classifier" and config.data.source == "synthetic"


def test_overrides_apply_dotted_keys():
    config = load_config("training", TrainingConfig, {"data.n_rows": 1234, "training.search.cv_folds": 4})
    assert config.data.n_rows == 1234 and config.training.search.cv_folds == 4


@pytest.mark.parametrize(
    "override, message",
    [
        ({"split.test_size": 1.5}, "split.test_size: Input should be less than 1 (got 1.5)"),
        ({"training.search.cv_folds": 1}, "training.search.cv_folds: Input should be greater than or equal to 2"),
        ({"data.task": "ranking"}, "data.task: Input should be 'auto', 'binary', 'multiclass' or 'regression'"),
        ({"training.unknown": 1}, "training.unknown: Extra inputs are not permitted"),
    ],
)
def test_bad_values_are_named(override, message):
    with pytest.raises(ConfigError, match="training.yaml: " + message.replace("(", "\\(").replace(")", "\\)")):
        load_config("training", TrainingConfig, override)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.yaml", TrainingConfig)
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad, TrainingConfig)


def test_shipped_deployment_config_has_the_abtest_defaults():
    abtest = load_config("deployment", DeploymentConfig).abtest
    assert (abtest.split_percent, abtest.sticky_header, abtest.metric) == (10, None, None)
    assert (abtest.min_detectable_effect, abtest.alpha, abtest.power) == (0.02, 0.05, 0.8)
    assert abtest.guardrails.model_dump() == {"max_error_rate_increase": 0.01, "max_p99_latency_ratio": 1.5,
                                              "min_requests": 200}
    assert DeploymentConfig().abtest == abtest  # the YAML states the schema's defaults


@pytest.mark.parametrize(
    "override, message",
    [
        ({"abtest.split_percent": 0}, "abtest.split_percent: Input should be greater than or equal to 1 (got 0)"),
        ({"abtest.split_percent": 100}, "abtest.split_percent: Input should be less than or equal to 99 (got 100)"),
        ({"abtest.metric": "f1_macro"}, "abtest.metric: Input should be 'accuracy', 'roc_auc', 'rmse' or 'mae'"),
        ({"abtest.min_detectable_effect": 0}, "abtest.min_detectable_effect: Input should be greater than 0"),
        ({"abtest.alpha": 0.5}, "abtest.alpha: Input should be less than 0.5 (got 0.5)"),
        ({"abtest.power": 1.0}, "abtest.power: Input should be less than 1 (got 1.0)"),
        ({"abtest.sticky_header": "X-User-Id; return 200"}, "abtest.sticky_header: String should match pattern"),
        ({"abtest.guardrails.min_requests": 0}, "abtest.guardrails.min_requests: Input should be greater than or"),
        ({"abtest.guardrails.max_p99_latency_ratio": 0.9},
         "abtest.guardrails.max_p99_latency_ratio: Input should be greater than or equal to 1"),
        ({"abtest.guardrails.max_error_rate_increase": -0.1},
         "abtest.guardrails.max_error_rate_increase: Input should be greater than or equal to 0"),
        ({"abtest.split": 10}, "abtest.split: Extra inputs are not permitted"),
    ],
)
def test_bad_abtest_values_are_named(override, message):
    with pytest.raises(ConfigError, match="deployment.yaml: " + message.replace("(", "\\(").replace(")", "\\)")):
        load_config("deployment", DeploymentConfig, override)
