"""The project's materializers round-trip through a real ZenML artifact store."""

import os

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def artifact_dir():
    from pipelines.launch import prepare_environment
    from stacks.registration import register_stack

    prepare_environment()
    register_stack("local")
    from zenml.client import Client

    root = os.path.join(Client().active_stack.artifact_store.path, "materializer-tests")
    for name in ("frame", "report", "model", "profile"):  # ZenML creates an artifact's directory before saving
        os.makedirs(os.path.join(root, name), exist_ok=True)
    return root


def test_dataframes_keep_nan_as_the_missing_marker(artifact_dir):
    import materializers.project_materializers  # noqa: F401  (what every step module imports)
    from zenml.materializers.materializer_registry import materializer_registry

    assert materializer_registry[pd.DataFrame].__name__ == "FaithfulPandasMaterializer"
    materializer = materializer_registry[pd.DataFrame](os.path.join(artifact_dir, "frame"))
    frame = pd.DataFrame({"plan": ["basic", np.nan, "pro"], "charges": [1.5, np.nan, 3.0]})
    materializer.save(frame)
    loaded = materializer.load(pd.DataFrame)
    assert isinstance(loaded["plan"].iloc[1], float) and np.isnan(loaded["plan"].iloc[1])
    pd.testing.assert_frame_equal(loaded, frame)


def test_reports_store_json_and_render_html(artifact_dir):
    from materializers.project_materializers import ReportMaterializer
    from steps.deployment.gate import decide

    decision = decide("2", {"roc_auc": 0.81}, "roc_auc", {"roc_auc": 0.7}, 0.0, "1", {"roc_auc": 0.8})
    materializer = ReportMaterializer(os.path.join(artifact_dir, "report"))
    materializer.save(decision)
    assert type(decision).from_dict(decision.to_dict()) == materializer.load(type(decision))
    visualizations = materializer.save_visualizations(decision)
    (path, kind), = visualizations.items()
    assert str(kind).endswith("html") and "challenger v2" in open(path).read()
    assert materializer.extract_metadata(decision)["decision"] == "deploy"


def test_models_are_skops_files(artifact_dir):
    from sklearn.linear_model import LogisticRegression

    from materializers.project_materializers import SkopsModelMaterializer

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    materializer = SkopsModelMaterializer(os.path.join(artifact_dir, "model"))
    materializer.save(model)
    assert os.listdir(os.path.join(artifact_dir, "model")) == ["model.skops"]
    assert materializer.load(LogisticRegression).predict([[2.9]]).tolist() == [1]


def test_whylogs_profiles_round_trip_with_a_summary(artifact_dir):
    from materializers.project_materializers import WhylogsProfileMaterializer
    from steps.data.profiling import profile_frame

    view = profile_frame(pd.DataFrame({"age": [20, 30, np.nan], "plan": ["a", "b", "a"]}))
    materializer = WhylogsProfileMaterializer(os.path.join(artifact_dir, "profile"))
    materializer.save(view)
    loaded = materializer.load(type(view))
    assert loaded.get_column("age").get_metric("counts").n.value == 3
    (path, _), = materializer.save_visualizations(view).items()
    assert "<th>age</th>" in open(path).read()
    assert materializer.extract_metadata(view) == {"columns": 2, "rows": 3}
