"""Request validation (serving.schema) and the numpy preprocessing path (serving.fastpath), in-process."""

from __future__ import annotations

import math

import numpy as np
import pytest

from serving.artifact import ColumnSpec, ModelArtifactError, trusted_types
from serving.fastpath import Unsupported, compile_preprocess
from serving.schema import BadInput, InputSchema
from tests.serving.model_factory import CATEGORICAL, NUMERIC, fit_model, make_frame, supported_combinations

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


@pytest.mark.parametrize("estimator, task", list(supported_combinations()))
def test_numpy_preprocessing_equals_the_column_transformer(estimator, task):
    model, _, _ = fit_model(estimator, task, frame=make_frame(400, seed=1))
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
    # exact names: functions of trusted packages are not trusted
    with pytest.raises(ModelArtifactError, match=r"allowlist: numpy\.load, sklearn\.utils\.fixes\.parse_version\."):
        trusted_types(["numpy.load", "sklearn.utils.fixes.parse_version"])


LONG = InputSchema([ColumnSpec("n", "long"), ColumnSpec("x", "double")])


@pytest.mark.parametrize("payload, message", [
    ({"jsonData": {"n": 2**63, "x": 1.0}}, "column 'n': expected a 64-bit integer, found an integer of 64 bits"),
    ({"jsonData": {"n": 1, "x": 10**400}}, "column 'x': expected a finite number, found an integer of 1329 bits"),
    ({"data": {"names": ["n", "x", "n"], "ndarray": [[1, 2, 3]]}}, "too many feature names: 3, the model expects 2"),
    ({"data": {"names": [str(i) for i in range(10**6)], "ndarray": [[1]]}}, "too many feature names: 1000000"),
    ({"jsonData": {str(i): 1 for i in range(10**5)}}, "too many feature names: 100000"),
    ({"jsonData": {"n": [[[1]]], "x": 1.0}}, "found list in 1 of 1 row (e.g. a list of 1 items)"),
])
def test_hostile_values_and_names_are_named_not_crashed_on(payload, message):
    with pytest.raises(BadInput) as err:
        LONG.parse(payload)
    assert message in str(err.value)


def test_a_double_column_takes_big_integers_as_floats():
    columns = LONG.parse({"jsonData": [{"n": 2**63 - 1, "x": 10**30}, {"n": -(2**63), "x": 1}]})
    assert columns == {"n": [2**63 - 1, -(2**63)], "x": [1e30, 1]}


def test_messages_quote_only_a_bounded_part_of_the_request():
    huge = "z" * 1_000_000
    for payload in ({"jsonData": {"n": huge, "x": 1.0}}, {"jsonData": {"n": 1, huge: 1.0}},
                    {"data": {"names": ["n", huge], "ndarray": [[1, 2]]}}, {huge: 1, "other": 2}):
        with pytest.raises(BadInput) as err:
            LONG.parse(payload)
        assert len(str(err.value)) < 1000, str(err.value)[:200]
