"""A messy table as users bring it (ids, free text, dates, mostly empty columns, a leak) trains out of the box, and
the artifacts name every decision taken about its columns."""

import html

import pytest

from pipelines.launch import (load_training_config, model_name_for, preflight_data, prepare_environment, run_training,
                              user_data_overrides)
from core import names
from tests.steps.data.messy_tables import MESSY_DROPPED, MESSY_LEAK, TITANIC_FEATURES, messy_table

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def local_stack():
    from stacks.registration import register_stack

    prepare_environment()
    register_stack("local")
    from zenml.client import Client

    return Client()


def _output(client, run_id, step, name):
    return client.get_pipeline_run(run_id).steps[step].outputs[name][0]


def test_messy_table_trains_and_the_artifacts_name_each_decision(local_stack, tmp_path):
    path = tmp_path / "passengers.csv"
    messy_table().to_csv(path, index=False)
    config = load_training_config(None, {
        **user_data_overrides(str(path), "Survived"),  # as `train --data` does
        "data.source": str(path), "data.target": "Survived", "model.name": model_name_for(str(path)),
        "training.search.space": {"max_depth": [3]}, "training.search.cv_folds": 2, "enable_cache": False,
    })
    summary = run_training(config, preflight_data(config), say=lambda _: None)
    assert summary["status"].endswith("completed")
    registered = _output(local_stack, summary["run_id"], "register_model", names.REGISTERED_MODEL).load()
    assert registered.version == "1"

    schema_artifact = _output(local_stack, summary["run_id"], "ingest_data", names.DATA_SCHEMA)
    schema = schema_artifact.load()
    assert set(schema.features) == TITANIC_FEATURES | {MESSY_LEAK}  # a leak is named, never dropped silently
    assert {column: reason.split(":")[0] for column, reason in schema.dropped.items()} == MESSY_DROPPED
    for column, reason in schema.dropped.items():
        assert f"{column}: dropped ({reason})" in schema.decisions
    assert schema.dropped["body"].startswith("mostly empty: 91.2% missing (813 of 891 rows), above "
                                             "validation.max_null_fraction 0.5")
    # Later batches are held to the features only: a dropped column is no part of the contract.
    assert {c["name"] for c in schema.contract["columns"]} == set(schema.features) | {"Survived"}
    # The dashboard's view of the schema (the stored HTML visualization) shows every reason and the warning.
    from zenml.artifacts.utils import load_artifact_visualization

    page = html.unescape(load_artifact_visualization(schema_artifact).value)
    assert all(reason in page for reason in schema.dropped.values()) and schema.warnings[0] in page

    report = _output(local_stack, summary["run_id"], "validate_data", names.VALIDATION_REPORT).load()
    assert report.passed and report.n_rows == 891
    assert len(report.warnings) == 1 and report.warnings == schema.warnings
    assert report.warnings[0].startswith(f"possible leakage: column '{MESSY_LEAK}' alone predicts 'Survived' with "
                                         "holdout ROC AUC ")
    assert not any(f["column"] in schema.dropped for f in report.checks)  # checked only what the model uses
