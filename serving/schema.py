"""Turn a Seldon JSON request into validated feature columns, or a BadInput naming what is wrong.

Accepted payloads (Seldon protocol v1):
  {"data": {"names": ["age", ...], "ndarray": [[42, ...], ...]}}      rows, columns named by `names`
  {"data": {"ndarray": [[42, ...]]}}                                   rows in signature order
  {"jsonData": {"age": 42, ...}}  or  {"jsonData": [{"age": 42, ...}, ...]}   records keyed by feature name

Validation is column-wise (one pass of `type()` per column) so a 1000-row batch costs little; no pandas here.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from typing import Any, Dict, Iterable, List, Sequence

from serving.artifact import ColumnSpec

NUMERIC_TYPES = {"double", "float", "long", "integer"}
INTEGER_TYPES = {"long", "integer"}
MAX_ROWS = 100_000  # a guard against runaway batches; larger scoring belongs in a batch job
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
SHOWN_NAMES = 10  # names quoted in one message: a client must not get its own megabytes back


class BadInput(ValueError):
    """The request does not match the model's input schema; the message says how."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _names_list(names: Sequence[str], limit: int = SHOWN_NAMES) -> str:
    shown = ", ".join(_clip(repr(n)) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _first_sorted(keys: Iterable[str]) -> List[str]:
    """The first names in sorted order, in linear time (a payload may carry millions of keys)."""
    return heapq.nsmallest(SHOWN_NAMES + 1, (k for k in keys if isinstance(k, str)))


def _example(value: Any) -> str:
    """A short description of one offending value (containers by size, long strings clipped)."""
    if isinstance(value, (list, dict)):
        return f"{'a list' if isinstance(value, list) else 'an object'} of {len(value)} items"
    return _clip(repr(value))


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
        other = _first_sorted(k for k in (data if isinstance(data, dict) else payload) if k not in ("names", "meta"))
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
                found = _names_list(_first_sorted(record)) if isinstance(record, dict) else type(record).__name__
                raise BadInput(f"jsonData record {i}: expected keys {_names_list(keys)}, found {found}")
        columns = {name: [record[name] for record in records] for name in keys}
        return self._check_values(columns, len(records))

    # -- checks -------------------------------------------------------------------------------------------------
    def _check_names(self, names: Sequence[str]) -> None:
        """Names must be the signature's, each once; one linear pass, and messages quote a bounded few."""
        seen = set(names)
        problems = []
        if len(names) > len(self.names):
            problems.append(f"too many feature names: {len(names)}, the model expects {len(self.names)}")
        unknown = [n for n in names if n not in self._index]
        missing = [n for n in self.names if n not in seen]
        if len(seen) != len(names):
            dupes = sorted(n for n, count in Counter(names).items() if count > 1)
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
        if int in types:
            problem = _check_integers(spec, values)
            if problem:
                return problem
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


def _check_integers(spec: ColumnSpec, values: List[Any]) -> str:
    """Integers outside int64 break numpy; in a double column they become floats when a double can hold them."""
    big = [i for i, v in enumerate(values) if type(v) is int and not INT64_MIN <= v <= INT64_MAX]
    if not big:
        return ""
    if spec.type not in INTEGER_TYPES:
        try:
            for i in big:
                values[i] = float(values[i])
            return ""
        except OverflowError:
            pass
    return (
        f"column {spec.name!r}: expected {'a 64-bit integer' if spec.type in INTEGER_TYPES else 'a finite number'}, "
        f"found an integer of {values[big[0]].bit_length()} bits in {_plural(len(big), 'row')}"
    )


_JSON_NAMES = {int: "int", float: "float", str: "str", bool: "bool", list: "list", dict: "object", type(None): "null"}


def _wrong_type(spec: ColumnSpec, values: List[Any], allowed: set) -> str:
    bad = [v for v in values if type(v) not in allowed]
    kinds = sorted({_JSON_NAMES.get(type(v), type(v).__name__) for v in bad})
    return (
        f"column {spec.name!r}: expected {spec.type}, found {'/'.join(kinds)} in {len(bad)} of "
        f"{_plural(len(values), 'row')} (e.g. {_example(bad[0])})"
    )
