"""The data contract and the validation gate: schema and quality checks run as whylogs constraints over a profile.

A `DataContract` says what a batch must look like (columns, kinds, ranges, null fractions, rows, target classes).
`infer_contract` derives one from the training data, with slack so that fresh batches from the same distribution
pass; `training_contract` is the data-independent quality bar for the training data itself. `validate_profile`
turns a contract into whylogs constraints, evaluates them on a profile view and returns a `ValidationReport` that
names every failing column and check.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional

import pandas as pd
from pandas.api import types as ptypes

from materializers.report_base import Report, html_page
from steps.data.columns import FeaturePlan

KINDS = ("numeric", "categorical")
WHYLOGS_TYPES = ("integral", "fractional", "boolean", "string", "object", "tensor")
NUMERIC_TYPES = ["integral", "fractional", "boolean"]
TABLE = "(table)"  # the `column` of checks about the whole batch


class ContractConfigError(ValueError):
    """A contract parameter (from a config file or the CLI) is out of range; the message names it."""


class DataValidationError(ValueError):
    """A batch failed validation; the message names every failing column and check."""

    def __init__(self, report: "ValidationReport") -> None:
        super().__init__(report.summary())
        self.report = report


def _fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ContractConfigError(f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ContractConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


@dataclass
class ColumnContract:
    """What one column of a batch must satisfy. `allowed_types` are whylogs type names; None means any."""

    name: str
    kind: str
    required: bool = True
    min_value: Optional[float] = None
    max_value: Optional[float] = None
    max_null_fraction: float = 1.0
    allowed_types: Optional[List[str]] = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ContractConfigError(f"column {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        _fraction(f"column {self.name!r}: max_null_fraction", self.max_null_fraction)
        if self.min_value is not None and self.max_value is not None and self.min_value > self.max_value:
            raise ContractConfigError(
                f"column {self.name!r}: min_value {self.min_value} is greater than max_value {self.max_value}"
            )
        unknown = sorted(set(self.allowed_types or []) - set(WHYLOGS_TYPES))
        if unknown:
            raise ContractConfigError(f"column {self.name!r}: unknown types {unknown}; known: {WHYLOGS_TYPES}")


@dataclass
class DataContract(Report):
    """The columns a batch must have and the batch-level rules (rows, target classes)."""

    columns: List[ColumnContract]
    target: Optional[str]
    min_rows: int
    min_target_classes: Optional[int]

    title: ClassVar[str] = "Data contract"

    def __post_init__(self) -> None:
        _positive_int("min_rows", self.min_rows)
        if self.min_target_classes is not None:
            _positive_int("min_target_classes", self.min_target_classes)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "DataContract":
        fields = dict(data)
        fields["columns"] = [c if isinstance(c, ColumnContract) else ColumnContract(**c) for c in data["columns"]]
        return cls(**fields)

    def column(self, name: str) -> Optional[ColumnContract]:
        return next((c for c in self.columns if c.name == name), None)


def _observed_types(col: pd.Series, kind: str) -> Optional[List[str]]:
    """whylogs types the column may hold, judged from its pandas dtype (strings only for text categories)."""
    if kind == "numeric":
        return list(NUMERIC_TYPES)
    if ptypes.is_bool_dtype(col):
        return ["boolean"]
    if ptypes.is_integer_dtype(col):
        return ["integral"]
    if ptypes.is_float_dtype(col):  # integer codes with missing values are stored as floats
        return ["integral", "fractional"]
    values = col.dropna()
    if len(values) and values.map(type).eq(str).all():
        return ["string"]
    return None


def _range(values: pd.Series, slack: float) -> tuple:
    low, high = float(values.min()), float(values.max())
    margin = slack * (high - low) if high > low else slack * max(abs(low), 1.0)
    lower = low - margin
    if low >= 0:  # a non-negative quantity stays non-negative: a negative value is an error, not a shift
        lower = max(0.0, lower)
    return lower, high + margin


def infer_contract(
    df: pd.DataFrame, plan: FeaturePlan, *, min_rows: int = 50, null_slack: float = 0.1, range_slack: float = 1.0
) -> DataContract:
    """The contract later batches must meet, inferred from the training data `df` and its feature plan.

    Numeric ranges are the observed [min, max] widened by `range_slack` times the span on each side (never below 0
    for a non-negative column); null-fraction limits are the observed fraction plus `null_slack`.
    """
    _positive_int("min_rows", min_rows)
    _fraction("null_slack", null_slack)
    if isinstance(range_slack, bool) or not isinstance(range_slack, (int, float)) or not 0 <= range_slack < math.inf:
        raise ContractConfigError(f"range_slack must be a non-negative number, got {range_slack!r}")
    missing = [c for c in plan.features + [plan.target] if c not in df.columns]
    if missing:
        raise ContractConfigError(f"cannot infer a contract: columns {missing} of the feature plan are not in the data")
    columns = []
    for name in plan.features + [plan.target]:
        col = df[name]
        is_numeric = name in plan.numeric or (name == plan.target and plan.task == "regression")
        kind = "numeric" if is_numeric else "categorical"
        lower = upper = None
        if kind == "numeric" and col.notna().any():
            lower, upper = _range(col.dropna().astype(float), float(range_slack))
        columns.append(
            ColumnContract(
                name=name, kind=kind, min_value=lower, max_value=upper,
                max_null_fraction=min(1.0, round(float(col.isna().mean()) + float(null_slack), 6)),
                allowed_types=_observed_types(col, kind),
            )
        )
    return DataContract(columns=columns, target=plan.target, min_rows=min_rows, min_target_classes=2)


def training_contract(schema: Any, *, min_rows: int = 50, max_null_fraction: float = 0.5) -> DataContract:
    """The quality bar for training data: every feature and the target present with the right kind, at most
    `max_null_fraction` nulls per column, `min_rows` rows and at least two target values. No ranges: the training
    data defines them. `schema` is anything with numeric, categorical, target (and task) attributes."""
    _positive_int("min_rows", min_rows)
    _fraction("max_null_fraction", max_null_fraction)
    columns = [ColumnContract(n, "numeric", max_null_fraction=max_null_fraction, allowed_types=list(NUMERIC_TYPES))
               for n in schema.numeric]
    columns += [ColumnContract(n, "categorical", max_null_fraction=max_null_fraction) for n in schema.categorical]
    target_kind = "numeric" if getattr(schema, "task", None) == "regression" else "categorical"
    columns.append(ColumnContract(schema.target, target_kind, max_null_fraction=0.0))
    return DataContract(columns=columns, target=schema.target, min_rows=min_rows, min_target_classes=2)


@dataclass
class ValidationReport(Report):
    """Outcome of validating one batch: every check with its verdict, and the failures first-class."""

    passed: bool
    n_rows: int
    n_checks: int
    failures: List[Dict[str, Any]] = field(default_factory=list)
    checks: List[Dict[str, Any]] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)  # worth a look, but no reason to stop (possible leakage)
    advice: List[str] = field(default_factory=list)  # how to go on after a failure (the setting, the column)

    title: ClassVar[str] = "Data validation"

    def summary(self) -> str:
        """One line: the verdict, and for a failure every failing column and check with expected and found, then
        how to go on."""
        warned = f", {len(self.warnings)} warning(s)" if self.warnings else ""
        if self.passed:
            return f"data validation passed: {self.n_checks} checks on {self.n_rows} rows{warned}"
        details = "; ".join(
            f"{'table' if f['column'] == TABLE else 'column ' + repr(f['column'])} {f['check']}: "
            f"expected {f['expected']}, found {f['found']}"
            for f in self.failures
        )
        advice = f". To go on: {'; '.join(self.advice)}" if self.advice else ""
        return (f"data validation failed ({len(self.failures)} of {self.n_checks} checks on {self.n_rows} rows"
                f"{warned}): {details}{advice}")

    def to_html(self) -> str:
        verdict = "pass" if self.passed else "fail"
        rows = "".join(
            f"<tr class='{'pass' if c['passed'] else 'fail'}'><td>{'pass' if c['passed'] else 'FAIL'}</td>"
            + "".join(f"<td>{html.escape(str(c[k]))}</td>" for k in ("column", "check", "expected", "found"))
            + "</tr>"
            for c in sorted(self.checks, key=lambda c: c["passed"])  # failing rows first
        )
        warnings = "".join(f"<li class='fail'>{html.escape(w)}</li>" for w in self.warnings)
        body = (
            f"<p class='{verdict}'>{html.escape(self.summary())}</p>"
            + (f"<h3>Warnings</h3><ul>{warnings}</ul>" if warnings else "")
            + "<table><tr><th>status</th><th>column</th>"
            f"<th>check</th><th>expected</th><th>found</th></tr>{rows}</table>"
        )
        return html_page(self.title, body)


def _fmt(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isinf(x)):
        return "-inf" if x is not None and x < 0 else "inf" if x is not None else "none"
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def _found_types(s: Dict[str, Any], allowed: List[str]) -> str:
    bad = {t: int(s.get(t, 0)) for t in WHYLOGS_TYPES if t not in allowed and int(s.get(t, 0))}
    return ", ".join(f"{n} {t} values" for t, n in bad.items()) or f"only {'/'.join(allowed)}"


class _Plan:
    """Constraints to evaluate, each with how to report it, plus checks decided without a profile metric."""

    def __init__(self) -> None:
        self.constraints: List[Any] = []  # whylogs MetricConstraint
        self.meta: Dict[str, tuple] = {}  # constraint name -> (column, check, expected, found(summary))
        self.direct: List[Dict[str, Any]] = []

    def add(self, constraint: Any, column: str, check: str, expected: str, found) -> None:
        self.constraints.append(constraint)
        self.meta[constraint.name] = (column, check, expected, found)

    def record(self, column: str, check: str, expected: str, found: str, passed: bool) -> None:
        self.direct.append(dict(column=column, check=check, expected=expected, found=found, passed=passed))


def _column_checks(plan: _Plan, c: ColumnContract, contract: DataContract) -> None:
    from core.whylogs_env import why  # noqa: F401  (applies the numpy shim before whylogs.core is imported)
    from whylogs.core.constraints.factories import (
        column_has_zero_count_types,
        distinct_number_in_range,
        is_in_range,
        null_percentage_below_number,
    )

    name = c.name
    if c.allowed_types is not None:
        plan.add(column_has_zero_count_types(name, [t for t in WHYLOGS_TYPES if t not in c.allowed_types]),
                 name, "type", f"only {'/'.join(c.allowed_types)} values", lambda s: _found_types(s, c.allowed_types))
    if c.min_value is not None or c.max_value is not None:
        low = -math.inf if c.min_value is None else c.min_value
        high = math.inf if c.max_value is None else c.max_value
        plan.add(is_in_range(name, low, high), name, "range", f"[{_fmt(low)}, {_fmt(high)}]",
                 lambda s: f"[{_fmt(s.get('min'))}, {_fmt(s.get('max'))}]")
    if c.max_null_fraction < 1.0:
        plan.add(null_percentage_below_number(name, c.max_null_fraction), name, "null fraction",
                 f"<= {c.max_null_fraction:.1%}", lambda s: f"{s['null'] / s['n']:.1%} ({s['null']} of {s['n']} rows)")
    if name == contract.target and contract.min_target_classes:
        k = contract.min_target_classes
        # The HyperLogLog estimate of a small count is within a hair of it: half a class of tolerance.
        plan.add(distinct_number_in_range(name, k - 0.5, math.inf), name, "target classes",
                 f">= {k} distinct values", lambda s: f"{round(s['est'])} distinct value(s)")


def validate_profile(view: Any, contract: DataContract, *, check_target: bool = True) -> ValidationReport:
    """Validates a whylogs DatasetProfileView against `contract`; target checks are skipped if `check_target` is
    False (unlabelled batches)."""
    from core.whylogs_env import why  # noqa: F401  (whylogs is imported here, not when a pipeline imports this module)
    from whylogs.core.constraints import ConstraintsBuilder, MetricConstraint, MetricsSelector

    if isinstance(contract, dict):
        contract = DataContract.from_dict(contract)
    profiled = view.get_columns()
    first = next(iter(profiled), None)
    n_rows = int(profiled[first].get_metric("counts").n.value) if first is not None else 0
    plan = _Plan()
    if first is None:
        plan.record(TABLE, "row count", f">= {contract.min_rows} rows", "0 rows (no columns)", False)
    else:
        plan.add(MetricConstraint(name=f"row count at least {contract.min_rows}",
                                  condition=lambda m: m.n.value >= contract.min_rows,
                                  metric_selector=MetricsSelector(metric_name="counts", column_name=first)),
                 TABLE, "row count", f">= {contract.min_rows} rows", lambda s: f"{s['n']} rows")
    columns = list(contract.columns)
    if contract.target and contract.column(contract.target) is None:
        columns.append(ColumnContract(contract.target, "categorical"))
    for c in columns:
        if c.name == contract.target and not check_target:
            continue
        if c.name not in profiled:
            if c.required or c.name == contract.target:
                plan.record(c.name, "present", "column present", "column missing", False)
            continue
        plan.record(c.name, "present", "column present", "column present", True)
        if n_rows:  # an empty batch fails on row count; its per-column ratios are undefined
            _column_checks(plan, c, contract)
    results = {}
    if plan.constraints:
        constraints = ConstraintsBuilder(view).add_constraints(plan.constraints).build()
        results = {r.name: r for r in constraints.generate_constraints_report(profile_view=view, with_summary=True)}
    checks = list(plan.direct)
    for name, (column, check, expected, found) in plan.meta.items():
        result = results.get(name)
        passed = bool(result is not None and result.passed)
        summary = result.summary if result is not None else None
        shown = found(summary) if summary else ("no values to check" if passed else "no profile metric for this check")
        checks.append(dict(column=column, check=check, expected=expected, found=shown, passed=passed))
    failures = [{k: c[k] for k in ("column", "check", "expected", "found")} for c in checks if not c["passed"]]
    return ValidationReport(passed=not failures, n_rows=n_rows, n_checks=len(checks), failures=failures, checks=checks)


def validate_frame(df: pd.DataFrame, contract: DataContract, *, check_target: bool = True) -> ValidationReport:
    """Profiles `df` with whylogs and validates the profile (convenience for callers holding a DataFrame)."""
    from core.whylogs_env import why

    return validate_profile(why.log(df).view(), contract, check_target=check_target)


def validate_batch_frame(
    df: pd.DataFrame, contract: DataContract | Dict[str, Any], *, min_rows: Optional[int] = None
) -> ValidationReport:
    """A batch to score, against its model's training contract; the target is checked only when the batch carries
    labels. `min_rows` replaces the contract's row minimum (which exists for drift statistics, not for scoring)."""
    if isinstance(contract, dict):
        contract = DataContract.from_dict(contract)
    if min_rows is not None:
        contract = DataContract(columns=contract.columns, target=contract.target, min_rows=min_rows,
                                min_target_classes=contract.min_target_classes)
    has_labels = bool(contract.target) and contract.target in df.columns and df[contract.target].notna().any()
    return validate_frame(df, contract, check_target=has_labels)


def require_valid(report: "ValidationReport") -> "ValidationReport":
    """Returns the report if it passed; raises DataValidationError (message = summary) otherwise."""
    if not report.passed:
        raise DataValidationError(report)
    return report
