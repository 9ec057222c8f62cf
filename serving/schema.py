"""Turn a Seldon JSON request into validated feature columns, or a BadInput naming what is wrong.

Accepted payloads (Seldon protocol v1):
  {"data": {"names": ["age", ...], "ndarray": [[42, ...], ...]}}      rows, columns named by `names`
  {"data": {"ndarray": [[42, ...]]}}                                   rows in signature order
  {"jsonData": {"age": 42, ...}}  or  {"jsonData": [{"age": 42, ...}, ...]}   records keyed by feature name

Validation is column-wise (one pass of `type()` per column) so a 1000-row batch costs little; no pandas here.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence

from serving.artifact import ColumnSpec

NUMERIC_TYPES = {"double", "float", "long", "integer"}
INTEGER_TYPES = {"long", "integer"}
MAX_ROWS = 100_000  # a guard against runaway batches; larger scoring belongs in a batch job


class BadInput(ValueError):
    """The request does not match the model's input schema; the message says how."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _names_list(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


class InputSchema:
    """The model's input columns, from the MLflow signature."""

    def __init__(self, columns: Sequence[ColumnSpec]):
        self.columns = list(columns)
        self.names = [c.name for c in self.columns]
        self._index = {c.name: i for i, c in enumerate(self.columns)}

    # -- request shapes -----------------------------------------------------------------------------------------
    def parse(self, payload: Any) -> Dict[str, List[Any]]:
        """Validate a decoded JSON request and return {column name: values}, values normalised (None -> NaN)."""
        if not isinstance(payload, dict) or not payload:
            raise BadInput("empty payload: send {'data': {'names': [...], 'ndarray': [[...]]}} or {'jsonData': ...}")
        if "jsonData" in payload:
            return self._from_records(payload["jsonData"])
        data = payload.get("data")
        if isinstance(data, dict) and "ndarray" in data:
            return self._from_ndarray(data["ndarray"], data.get("names"))
        other = sorted(k for k in (data if isinstance(data, dict) else payload) if k not in ("names", "meta"))
        raise BadInput(
            f"unsupported payload ({_names_list(other) or 'no data'}): "
            "send data.ndarray with data.names, or jsonData records keyed by feature name"
        )

    def _from_ndarray(self, rows: Any, names: Any) -> Dict[str, List[Any]]:
        if not isinstance(rows, list) or not rows:
            raise BadInput("empty payload: data.ndarray has no rows")
        if len(rows) > MAX_ROWS:
            raise BadInput(f"too many rows: {len(rows)} > {MAX_ROWS}")
        if names is None or names == []:
            names = self.names  # positional, signature order
        elif not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BadInput("data.names must be a list of feature names (strings)")
        self._check_names(names)
        width = len(names)
        for i, row in enumerate(rows):
            if not isinstance(row, list):
                raise BadInput(f"row {i}: expected a list of {width} values, found {type(row).__name__}")
            if len(row) != width:
                raise BadInput(
                    f"wrong feature count in row {i}: {_plural(len(row), 'value')}, expected {width} "
                    f"({_names_list(names) if names is not self.names else 'signature: ' + _names_list(self.names)})"
                )
        columns = {name: [row[j] for row in rows] for j, name in enumerate(names)}
        return self._check_values(columns, len(rows))

    def _from_records(self, records: Any) -> Dict[str, List[Any]]:
        if isinstance(records, dict):
            records = [records]
        if not isinstance(records, list) or not records:
            raise BadInput("empty payload: jsonData has no records")
        if len(records) > MAX_ROWS:
            raise BadInput(f"too many rows: {len(records)} > {MAX_ROWS}")
        first = records[0]
        if not isinstance(first, dict):
            raise BadInput(f"jsonData record 0: expected an object keyed by feature name, found {type(first).__name__}")
        keys = list(first)
        self._check_names(keys)
        key_set = set(keys)
        for i, record in enumerate(records):
            if not isinstance(record, dict) or record.keys() != key_set:
                found = sorted(record) if isinstance(record, dict) else type(record).__name__
                raise BadInput(f"jsonData record {i}: expected keys {_names_list(keys)}, found {found}")
        columns = {name: [record[name] for record in records] for name in keys}
        return self._check_values(columns, len(records))

    # -- checks -------------------------------------------------------------------------------------------------
    def _check_names(self, names: Sequence[str]) -> None:
        seen = set(names)
        problems = []
        unknown = [n for n in names if n not in self._index]
        missing = [n for n in self.names if n not in seen]
        if len(seen) != len(names):
            dupes = sorted({n for n in names if list(names).count(n) > 1})
            problems.append(f"duplicate feature names: {_names_list(dupes)}")
        if unknown:
            problems.append(f"unknown feature names: {_names_list(unknown)}")
        if missing:
            problems.append(f"missing feature names: {_names_list(missing)}")
        if problems:
            raise BadInput("; ".join(problems) + f" (the model expects {_names_list(self.names)})")

    def _check_values(self, columns: Dict[str, List[Any]], n_rows: int) -> Dict[str, List[Any]]:
        problems = []
        for spec in self.columns:
            values = columns[spec.name]
            problem = _check_column(spec, values)
            if problem:
                problems.append(problem)
        if problems:
            raise BadInput("; ".join(problems))
        return columns


def _check_column(spec: ColumnSpec, values: List[Any]) -> str:
    """Check one column in place (None -> NaN); return a problem description, or '' if the column is fine."""
    types = set(map(type, values))
    if spec.type in NUMERIC_TYPES:
        allowed = {int, float, type(None)}
        wrong = types - allowed
        if wrong:
            return _wrong_type(spec, values, allowed)
        if float in types:
            bad = [v for v in values if type(v) is float and math.isinf(v)]
            if bad:
                return f"column {spec.name!r}: expected a finite number, found {bad[0]} in {_plural(len(bad), 'row')}"
            if spec.type in INTEGER_TYPES:
                frac = [v for v in values if type(v) is float and not math.isnan(v) and not v.is_integer()]
                if frac:
                    return (
                        f"column {spec.name!r}: expected {spec.type} (whole numbers), found {frac[0]} "
                        f"in {_plural(len(frac), 'row')}"
                    )
    elif spec.type == "string":
        allowed = {str, type(None)}
        if types - allowed:
            return _wrong_type(spec, values, allowed)
    elif spec.type == "boolean":
        allowed = {bool, type(None)}
        if types - allowed:
            return _wrong_type(spec, values, allowed)
    else:
        return f"column {spec.name!r}: signature type {spec.type!r} is not supported by the serving model"
    if type(None) in types:
        # missing values are part of the model's contract: the pipeline's imputers fill NaN
        nan = float("nan")
        values[:] = [nan if v is None else v for v in values]
    return ""


_JSON_NAMES = {int: "int", float: "float", str: "str", bool: "bool", list: "list", dict: "object", type(None): "null"}


def _wrong_type(spec: ColumnSpec, values: List[Any], allowed: set) -> str:
    bad = [v for v in values if type(v) not in allowed]
    kinds = sorted({_JSON_NAMES.get(type(v), type(v).__name__) for v in bad})
    return (
        f"column {spec.name!r}: expected {spec.type}, found {'/'.join(kinds)} in {len(bad)} of "
        f"{_plural(len(values), 'row')} (e.g. {bad[0]!r})"
    )
