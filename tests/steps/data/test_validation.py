"""The validation gate: a fresh batch passes; each kind of bad batch fails naming its column and check."""

import numpy as np
import pytest

from steps.data.generator import TARGET, generate_batch
from steps.data.validation import (
    ColumnContract, ContractConfigError, DataContract, DataValidationError, ValidationReport, infer_contract,
    require_valid, training_contract, validate_batch_frame, validate_frame, validate_profile,
)
from core.whylogs_env import why


def _failed(report):
    return {(f["column"], f["check"]) for f in report.failures}


@pytest.fixture()
def batch():
    return generate_batch(1000, seed=99, day=4)


def test_fresh_batch_from_same_distribution_passes(contract, batch):
    report = validate_profile(why.log(batch).view(), contract)
    assert report.passed, report.summary()
    assert report.n_rows == 1000 and report.n_checks == len(report.checks) > 30 and not report.failures
    assert require_valid(report) is report
    assert report.summary() == f"data validation passed: {report.n_checks} checks on 1000 rows"


def test_contract_shape(contract, plan):
    assert [c.name for c in contract.columns] == plan.features + [TARGET]
    age = contract.column("age")
    assert age.kind == "numeric" and age.min_value == 0.0 and age.max_value > 90
    assert contract.column("payment_method").max_null_fraction == pytest.approx(0.1 + 0.02, abs=0.01)
    assert contract.column("region").allowed_types == ["string"]
    assert DataContract.from_json(contract.to_json()) == contract
    assert DataContract.from_dict(contract.to_dict()) == contract


def test_missing_column_fails(contract, batch):
    report = validate_frame(batch.drop(columns=["tenure_months"]), contract)
    assert _failed(report) == {("tenure_months", "present")}
    assert "column 'tenure_months' present: expected column present, found column missing" in report.summary()


def test_strings_in_numeric_column_fail_the_type_check(contract, batch):
    bad = batch.astype({"monthly_charges": object})
    bad.loc[:11, "monthly_charges"] = "n/a"
    report = validate_frame(bad, contract)
    assert _failed(report) == {("monthly_charges", "type")}
    assert "found 12 string values" in report.summary()


def test_out_of_range_fails(contract, batch):
    bad = batch.copy()
    bad.loc[3, "age"] = -4
    bad.loc[5, "support_calls"] = 500
    report = validate_frame(bad, contract)
    assert _failed(report) == {("age", "range"), ("support_calls", "range")}
    assert "column 'age' range: expected [0, " in report.summary() and "found [-4, " in report.summary()


def test_too_many_nulls_fail(contract, batch):
    bad = batch.copy()
    bad.loc[: len(bad) // 2, "total_charges"] = np.nan
    bad.loc[: len(bad) // 2, "contract_type"] = None
    report = validate_frame(bad, contract)
    assert _failed(report) == {("total_charges", "null fraction"), ("contract_type", "null fraction")}
    assert "found 50.1% (501 of 1000 rows)" in report.summary()


def test_too_few_rows_fail(contract, batch):
    report = validate_frame(batch.head(20), contract)
    assert _failed(report) == {("(table)", "row count")}
    assert "table row count: expected >= 50 rows, found 20 rows" in report.summary()
    empty = validate_frame(batch.head(0), contract)
    assert not empty.passed and ("(table)", "row count") in _failed(empty)


def test_a_batch_to_score_checks_labels_only_when_it_has_them_and_may_waive_the_row_minimum(contract, batch):
    unlabelled = batch.drop(columns=[TARGET]).head(20)
    assert _failed(validate_batch_frame(unlabelled, contract)) == {("(table)", "row count")}
    assert validate_batch_frame(unlabelled, contract.to_dict(), min_rows=1).passed
    assert not validate_batch_frame(unlabelled.head(0), contract, min_rows=1).passed
    constant = batch.assign(**{TARGET: batch[TARGET].iloc[0]})
    assert _failed(validate_batch_frame(constant, contract)) == {(TARGET, "target classes")}
    assert contract.min_rows == 50  # the contract itself is left as it was


def test_constant_target_fails_unless_target_checks_are_off(contract, batch):
    bad = batch.assign(**{TARGET: 0})
    report = validate_frame(bad, contract)
    assert _failed(report) == {(TARGET, "target classes")}
    assert "expected >= 2 distinct values, found 1 distinct value(s)" in report.summary()
    assert validate_frame(bad.drop(columns=[TARGET]), contract, check_target=False).passed
    assert _failed(validate_frame(bad.drop(columns=[TARGET]), contract)) == {(TARGET, "present")}


def test_report_names_every_failure_and_renders(contract, batch):
    bad = batch.drop(columns=["region"]).assign(**{TARGET: 1})
    bad.loc[0, "tenure_months"] = -1
    report = validate_frame(bad, contract)
    assert _failed(report) == {("region", "present"), ("tenure_months", "range"), (TARGET, "target classes")}
    with pytest.raises(DataValidationError) as info:
        require_valid(report)
    assert str(info.value) == report.summary() and info.value.report is report
    page = report.to_html()
    assert page.index("FAIL") < page.index(">pass<") and "class='fail'" in page
    assert ValidationReport.from_json(report.to_json()) == report


def test_training_contract_checks_quality_without_ranges(plan, reference):
    contract = training_contract(plan, min_rows=100, max_null_fraction=0.2)
    assert all(c.min_value is None and c.max_value is None for c in contract.columns)
    assert validate_frame(reference, contract).passed
    bad = reference.head(80).copy()
    bad.loc[:40, "age"] = np.nan
    assert _failed(validate_frame(bad, contract)) == {("(table)", "row count"), ("age", "null fraction")}


@pytest.mark.parametrize("kwargs, message", [
    (dict(min_rows=0), "min_rows must be a positive integer, got 0"),
    (dict(min_rows=2.5), "min_rows must be a positive integer, got 2.5"),
    (dict(null_slack=1.5), "null_slack must be a number between 0 and 1, got 1.5"),
    (dict(null_slack="a"), "null_slack must be a number between 0 and 1, got 'a'"),
    (dict(range_slack=-1), "range_slack must be a non-negative number, got -1"),
])
def test_bad_contract_config_values_are_named(reference, plan, kwargs, message):
    with pytest.raises(ContractConfigError, match=message.replace(".", r"\.")):
        infer_contract(reference, plan, **kwargs)


def test_bad_column_contract_values_are_named():
    with pytest.raises(ContractConfigError, match="column 'x': kind must be one of"):
        ColumnContract("x", "text")
    with pytest.raises(ContractConfigError, match="column 'x': min_value 5 is greater than max_value 1"):
        ColumnContract("x", "numeric", min_value=5, max_value=1)
    with pytest.raises(ContractConfigError, match="max_null_fraction must be a number between 0 and 1"):
        training_contract(type("S", (), dict(numeric=[], categorical=[], target="y"))(), max_null_fraction=2)


@pytest.mark.parametrize("name, task", [("iris", "multiclass"), ("breast_cancer", "binary"), ("diabetes", "regression"),
                                        ("digits", "multiclass")])
def test_bundled_datasets_meet_their_own_contracts(name, task):
    from steps.data.columns import detect_task, plan_features
    from steps.data.sources import load_dataset

    loaded = load_dataset(f"sklearn:{name}")
    assert detect_task(loaded.frame[loaded.target]) == task
    plan = plan_features(loaded.frame, loaded.target, task)
    contract = infer_contract(loaded.frame, plan, min_rows=10)
    assert validate_frame(loaded.frame, contract).passed
    assert validate_frame(loaded.frame.sample(frac=0.5, random_state=0), contract).passed
