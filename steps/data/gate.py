"""The training data gate: the quality checks on the training data, the warnings worth a look, and for every
failure the way forward (the config key, the flag, or the column to fix)."""

from __future__ import annotations

from typing import Any, Dict, List

from steps.data.columns import NULL_LIMIT_KEY
from steps.data.validation import TABLE, ValidationReport, training_contract, validate_profile

MIN_ROWS_KEY = "validation.min_rows"  # the training-config key, named in the advice


def _advice_for(failure: Dict[str, Any], report: ValidationReport, min_rows: int, max_null_fraction: float) -> str:
    column, check = failure["column"], failure["check"]
    if column == TABLE:
        return f"add rows (found {report.n_rows}) or lower {MIN_ROWS_KEY} (now {min_rows}) in the training config"
    if check == "present":
        return f"column {column!r} is not in the data: check the file, or pick another --target"
    if check == "target classes":
        return f"target {column!r} needs at least 2 distinct values: pick another --target or add labelled rows"
    if check == "null fraction":
        return (f"fill the missing values of {column!r}, remove it from the data, or lower {NULL_LIMIT_KEY} "
                f"(now {max_null_fraction:g}) so that it is dropped")
    if check == "type":
        return f"column {column!r} mixes kinds of values ({failure['found']}): clean it or remove it from the data"
    return f"fix the values of column {column!r} or remove it from the data"


def training_advice(report: ValidationReport, *, min_rows: int, max_null_fraction: float) -> List[str]:
    """One line per failed check of the training gate saying how to go on; none when the report passed."""
    advice: List[str] = []
    for failure in report.failures:
        line = _advice_for(failure, report, min_rows, max_null_fraction)
        if line not in advice:
            advice.append(line)
    return advice


def check_training_data(profile: Any, schema: Any, *, min_rows: int, max_null_fraction: float) -> ValidationReport:
    """Validates the training data's whylogs profile against the training quality bar; the report carries the
    schema's warnings (possible leakage) and, if it failed, the way forward."""
    contract = training_contract(schema, min_rows=min_rows, max_null_fraction=max_null_fraction)
    report = validate_profile(profile, contract, check_target=True)
    report.warnings = list(getattr(schema, "warnings", []))
    report.advice = training_advice(report, min_rows=min_rows, max_null_fraction=max_null_fraction)
    return report
