"""Seldon feedback requests -> label records ({'id': prediction id, 'truth': value}).

A client sends back the response it got (or just its `meta`) and the truth, one value per predicted row:
  {"response": {"meta": {"tags": {"prediction_ids": ["...", ...]}}}, "truth": {"data": {"ndarray": [1, 0, ...]}}}
`meta.puid` alone identifies a one-row prediction. Every problem is a 400 naming the field to fix.
"""

from __future__ import annotations

from typing import Any, Dict, List

from serving.schema import BadInput

MAX_LABELS = 100_000
EXAMPLE = ('{"response": {"meta": {"tags": {"prediction_ids": ["<id>"]}}}, '
           '"truth": {"data": {"ndarray": [<label>]}}}')


def parse_feedback(feedback: Dict[str, Any]) -> List[Dict[str, Any]]:
    meta = (feedback.get("response") or {}).get("meta") or {}
    ids = (meta.get("tags") or {}).get("prediction_ids")
    if ids is None and meta.get("puid"):
        ids = [meta["puid"]]
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise BadInput(f"feedback without prediction ids: send response.meta.tags.prediction_ids (the ids the "
                       f"prediction returned), e.g. {EXAMPLE}")
    if len(ids) > MAX_LABELS:
        raise BadInput(f"too many labels in one feedback request: {len(ids)} > {MAX_LABELS}")
    truth = ((feedback.get("truth") or {}).get("data") or {}).get("ndarray")
    if not isinstance(truth, list):
        raise BadInput(f"feedback without truth: send truth.data.ndarray, one label per prediction id, e.g. {EXAMPLE}")
    values = [t[0] if isinstance(t, list) and len(t) == 1 else t for t in truth]
    if len(values) != len(ids):
        raise BadInput(f"feedback has {len(ids)} prediction ids but {len(values)} truth values: send one per id")
    bad = [v for v in values if not isinstance(v, (str, int, float, bool)) or v != v]
    if bad:
        raise BadInput(f"truth values must be labels (numbers or strings), found {str(bad[0])[:60]!r}")
    return [{"id": i, "truth": v} for i, v in zip(ids, values)]
