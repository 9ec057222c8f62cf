"""The training data gate: passing with warnings, failing with the way forward, and the schema that records it."""

import html

import pytest

from steps.data.columns import plan_features
from core.frames import normalize_missing
from steps.data.gate import check_training_data, training_advice
from steps.data.schema import DataSchema
from steps.data.validation import DataValidationError, ValidationReport, require_valid
from core.whylogs_env import why
from tests.steps.data.messy_tables import MESSY_LEAK, messy_table

LEAK_WARNING = f"possible leakage: column '{MESSY_LEAK}' alone predicts 'Survived'"


@pytest.fixture(scope="module")
def messy():
    frame = normalize_missing(messy_table())
    plan = plan_features(frame, "Survived", "binary", max_null_fraction=0.5)
    schema = DataSchema(source="messy.csv", fingerprint="sha256:x", n_rows=len(frame), target="Survived",
                        task="binary", numeric=plan.numeric, categorical=plan.categorical, dropped=plan.dropped,
                        decisions=plan.describe(), contract={}, warnings=[f"{LEAK_WARNING} with holdout ROC AUC 1"])
    return frame, schema


def test_a_messy_table_passes_once_mostly_empty_columns_are_dropped_and_keeps_its_warnings(messy):
    frame, schema = messy
    report = check_training_data(why.log(frame).view(), schema, min_rows=50, max_null_fraction=0.5)
    assert report.passed, report.summary()
    assert report.summary().endswith(f"checks on {len(frame)} rows, 1 warning(s)")
    assert report.warnings == schema.warnings and report.advice == []
    page = html.unescape(report.to_html())
    assert "<h3>Warnings</h3>" in page and LEAK_WARNING in page
    assert ValidationReport.from_json(report.to_json()) == report
    # The same columns, kept: the gate fails on them and says which setting decides.
    kept = plan_features(frame, "Survived", "binary", max_null_fraction=0.95)
    failing = check_training_data(why.log(frame).view(), kept, min_rows=50, max_null_fraction=0.5)
    assert {f["column"] for f in failing.failures} == {"boat", "body", "insurance_code"}  # Cabin: too many categories
    assert ("fill the missing values of 'body', remove it from the data, or lower validation.max_null_fraction "
            "(now 0.5) so that it is dropped") in failing.advice


def test_too_few_rows_say_which_setting_to_change(messy):
    frame, schema = messy
    report = check_training_data(why.log(frame.head(30)).view(), schema, min_rows=50, max_null_fraction=0.5)
    assert not report.passed
    assert report.advice == ["add rows (found 30) or lower validation.min_rows (now 50) in the training config"]
    with pytest.raises(DataValidationError, match=r"row count: expected >= 50 rows, found 30 rows.* To go on: add "
                                                  r"rows \(found 30\) or lower validation\.min_rows \(now 50\)"):
        require_valid(report)


def test_every_failed_check_gets_advice():
    report = ValidationReport(passed=False, n_rows=10, n_checks=4, failures=[
        {"column": "y", "check": "present", "expected": "column present", "found": "column missing"},
        {"column": "y", "check": "target classes", "expected": ">= 2", "found": "1"},
        {"column": "x", "check": "type", "expected": "only integral", "found": "3 string values"},
        {"column": "x", "check": "range", "expected": "[0, 1]", "found": "[0, 9]"},
    ])
    advice = training_advice(report, min_rows=50, max_null_fraction=0.5)
    assert advice == [
        "column 'y' is not in the data: check the file, or pick another --target",
        "target 'y' needs at least 2 distinct values: pick another --target or add labelled rows",
        "column 'x' mixes kinds of values (3 string values): clean it or remove it from the data",
        "fix the values of column 'x' or remove it from the data",
    ]
    assert training_advice(ValidationReport(passed=True, n_rows=10, n_checks=1), min_rows=1,
                           max_null_fraction=0.5) == []


def test_schema_page_lists_every_dropped_column_with_its_reason(messy):
    _, schema = messy
    page = html.unescape(schema.to_html())
    assert "<h3>Warnings</h3>" in page and LEAK_WARNING in page and "<h3>Not used as features</h3>" in page
    for column, reason in schema.dropped.items():
        assert f"<tr><td>{column}</td><td>{reason}</td></tr>" in page
    assert DataSchema.from_json(schema.to_json()) == schema
    old = {k: v for k, v in schema.to_dict().items() if k != "warnings"}  # stored before warnings existed
    assert DataSchema.from_dict(old).warnings == []


def test_old_reports_without_the_new_fields_still_load():
    report = ValidationReport(passed=True, n_rows=1, n_checks=1)
    data = {k: v for k, v in report.to_dict().items() if k not in ("warnings", "advice")}
    assert ValidationReport.from_dict(data) == report
