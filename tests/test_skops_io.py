"""Models are (de)serialised with skops under an allowlist: no pickle, no foreign types."""

import os

import pytest
from sklearn.linear_model import LogisticRegression

from materializers.skops_io import UntrustedModelError, dumps, loads, trusted_types


class Sneaky(LogisticRegression):
    pass


def test_round_trip_of_a_fitted_model():
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    again = loads(dumps(model))
    assert again.predict([[0.2], [2.8]]).tolist() == [0, 1]


def test_types_outside_the_allowlist_are_refused():
    model = Sneaky().fit([[0.0], [1.0]], [0, 1])
    import skops.io as sio

    with pytest.raises(UntrustedModelError, match="outside the serving allowlist.*tests.test_skops_io.Sneaky"):
        trusted_types(sio.dumps(model))


def test_builtins_that_run_code_are_not_trusted():
    from materializers.skops_io import _allowlisted

    with pytest.raises(UntrustedModelError, match="builtins.eval"):
        _allowlisted(["sklearn.linear_model._logistic.LogisticRegression", "builtins.eval"])


# -- numpy.load inside a FunctionTransformer: refused at registration, in the materializer and at serving load
# (the serving load is tests/serving/test_microservice.py::test_untrusted_types_are_refused) -----------------------
REFUSED = r"outside the serving allowlist: numpy\.load\."


def test_registration_refuses_a_model_outside_the_allowlist(tmp_path):
    import mlflow

    from steps.training.tracking import log_model_and_register
    from tests.serving.model_factory import malicious_model

    model, X, task = malicious_model()
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)  # registration goes to the process-wide registry URI: this store, not another test's
    try:
        # An experiment of this store: the process may still point at another test's active experiment.
        experiment = mlflow.create_experiment("skops-refusal", artifact_location=(tmp_path / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            with pytest.raises(UntrustedModelError, match=REFUSED):
                log_model_and_register(model, X.head(5), task, "evil-model", tags={})
        assert mlflow.MlflowClient(tracking_uri=store, registry_uri=store).search_registered_models() == [], \
            "nothing may be registered"
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


@pytest.mark.integration
def test_the_materializer_refuses_to_save_or_load_a_model_outside_the_allowlist():
    import skops.io as sio

    from materializers.project_materializers import SkopsModelMaterializer
    from pipelines.launch import prepare_environment
    from stacks.registration import register_stack
    from tests.serving.model_factory import malicious_model

    prepare_environment()
    register_stack("local")
    from zenml.client import Client

    uri = os.path.join(Client().active_stack.artifact_store.path, "skops-refusal")
    os.makedirs(uri, exist_ok=True)
    model, _, _ = malicious_model()
    materializer = SkopsModelMaterializer(uri)
    with pytest.raises(UntrustedModelError, match=REFUSED):
        materializer.save(model)
    with open(os.path.join(uri, SkopsModelMaterializer.FILE), "wb") as f:  # a forged artifact file
        f.write(sio.dumps(model))
    with pytest.raises(UntrustedModelError, match=REFUSED):
        materializer.load(type(model))
