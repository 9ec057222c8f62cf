"""Request validation (serving.schema) and the numpy preprocessing path (serving.fastpath), in-process."""

from __future__ import annotations

import math

import numpy as np
import pytest

from serving.artifact import ColumnSpec, ModelArtifactError, trusted_types
from serving.fastpath import Unsupported, compile_preprocess
from serving.schema import BadInput, InputSchema
from tests.serving.model_factory import CATEGORICAL, NUMERIC, build_pipeline, make_estimator, make_frame, make_target

SCHEMA = InputSchema([ColumnSpec("age", "long"), ColumnSpec("income", "double"), ColumnSpec("job", "string")])


def test_ndarray_with_names_in_any_order_and_records_agree():
    a = SCHEMA.parse({"data": {"names": ["job", "age", "income"], "ndarray": [["admin", 3, 1.5]]}})
    b = SCHEMA.parse({"jsonData": {"income": 1.5, "job": "admin", "age": 3}})
    c = SCHEMA.parse({"data": {"ndarray": [[3, 1.5, "admin"]]}})  # positional: signature order
    assert a == b == c == {"age": [3], "income": [1.5], "job": ["admin"]}


def test_nulls_become_nan_for_the_imputers():
    cols = SCHEMA.parse({"jsonData": [{"age": None, "income": 2.0, "job": None}]})
    assert math.isnan(cols["age"][0]) and math.isnan(cols["job"][0])


@pytest.mark.parametrize("payload, message", [
    ({"jsonData": {"age": 1.5, "income": 1.0, "job": "a"}}, "column 'age': expected long (whole numbers), found 1.5"),
    ({"jsonData": {"age": 1, "income": 1.0, "job": "a", "x": 1}}, "unknown feature names: 'x'"),
    ({"data": {"names": ["age", "age", "job"], "ndarray": [[1, 1, "a"]]}}, "duplicate feature names: 'age'"),
    ({"jsonData": [{"age": 1, "income": 1.0, "job": "a"}, {"age": 1, "job": "a"}]},
     "jsonData record 1: expected keys 'age', 'income', 'job'"),
    ({"data": {"names": ["age", "income", "job"], "ndarray": [[1, 1.0, "a"], "oops"]}}, "row 1: expected a list"),
    ({"data": {"names": "age", "ndarray": [[1]]}}, "data.names must be a list"),
    ({"data": {"tensor": {"shape": [1, 3], "values": [1, 2, 3]}}}, "unsupported payload ('tensor')"),
    ([1, 2, 3], "empty payload"),
])
def test_problems_are_named(payload, message):
    with pytest.raises(BadInput, match=None) as err:
        SCHEMA.parse(payload)
    assert message in str(err.value)


def test_several_column_problems_are_reported_together():
    with pytest.raises(BadInput) as err:
        SCHEMA.parse({"data": {"ndarray": [["x", "y", 3], [1, 2.0, "ok"]]}})
    text = str(err.value)
    assert "column 'age': expected long, found str in 1 of 2 rows" in text
    assert "column 'income': expected double, found str in 1 of 2 rows" in text
    assert "column 'job': expected string, found int in 1 of 2 rows" in text


@pytest.mark.parametrize("estimator", ["logreg", "rf", "hgb", "ridge"])
def test_numpy_preprocessing_equals_the_column_transformer(estimator):
    frame = make_frame(400, seed=1)
    kind = "regression" if estimator == "ridge" else "classification"
    model = build_pipeline(make_estimator(estimator)).fit(frame, make_target(frame, kind, "str"))
    probe = make_frame(50, seed=9)
    probe.loc[0, "income"] = np.nan
    probe.loc[1, "job"] = np.nan
    probe.loc[2, "region"] = "atlantis"  # unseen category
    transform = compile_preprocess(model.steps[0][1], NUMERIC + CATEGORICAL)
    columns = {c: probe[c].tolist() for c in probe.columns}
    got = transform(columns, len(probe))
    expected = model.steps[0][1].transform(probe)
    expected = expected.toarray() if hasattr(expected, "toarray") else expected
    np.testing.assert_array_equal(got, expected)


def test_unknown_steps_fall_back():
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import MinMaxScaler

    frame = make_frame(50)
    ct = ColumnTransformer([("n", MinMaxScaler(), NUMERIC)]).fit(frame)
    with pytest.raises(Unsupported, match="MinMaxScaler"):
        compile_preprocess(ct, NUMERIC)


def test_allowlist():
    assert trusted_types(["numpy.dtype", "sklearn.tree._tree.Tree"]) == ["numpy.dtype", "sklearn.tree._tree.Tree"]
    with pytest.raises(ModelArtifactError, match="builtins.eval, os.system"):
        trusted_types(["numpy.dtype", "os.system", "builtins.eval"])
