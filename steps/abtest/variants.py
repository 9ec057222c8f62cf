"""What each variant of an A/B test served, from the endpoint's own records (serving/live_store.py).

Champion and challenger write to the same live directory (one endpoint), each prediction-log record carrying the
model version that made it, so the variants are told apart by version. Labels come back by prediction id
(feedback API or `run.py feedback`). In a shadow test the client only ever sees the champion's ids, so a
challenger row takes the label of the champion row that has the same request features (the mirrored copy of it).
Plain library code: the `abtest status` command and the tests call it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from serving import live_store
from steps.abtest.statistics import VariantOutcomes
from steps.monitoring.live import as_label, labels_by_id

ROLES = ("champion", "challenger")


@dataclass
class VariantRecords:
    """One variant's prediction-log rows since the test started, in arrival order, with their labels (or None)."""

    role: str
    version: str
    records: List[Dict[str, Any]] = field(default_factory=list)
    labels: List[Any] = field(default_factory=list)
    labelled_at: List[Optional[float]] = field(default_factory=list)  # when each row's label arrived

    @property
    def labelled(self) -> int:
        return sum(label is not None for label in self.labels)

    def outcomes(self, classes: Sequence[Any], positive: Optional[Any] = None) -> VariantOutcomes:
        """The labelled rows in the order their labels arrived, as the statistics want them (proba: the positive
        class's score, binary only; labelled_at: so the verdict compares both variants over the same period)."""
        served = [as_label(c, classes) for c in classes]
        rows = sorted(((r, y, t) for r, y, t in zip(self.records, self.labels, self.labelled_at) if y is not None),
                      key=lambda row: row[2])
        y_true = np.array([y for _, y, _ in rows], dtype=object if served else float)
        at = np.array([t for _, _, t in rows], dtype=float)
        if not served:
            return VariantOutcomes(self.role, y_true.astype(float),
                                   np.array([r["prediction"] for r, _, _ in rows], dtype=float), labelled_at=at)
        y_pred = np.array([as_label(r["prediction"], served) for r, _, _ in rows], dtype=object)
        proba = None
        if positive is not None and len(served) == 2:
            column = served.index(positive)
            proba = np.array([r["scores"][column] for r, _, _ in rows], dtype=float)
        return VariantOutcomes(self.role, y_true, y_pred, proba, labelled_at=at)

    def unlabelled_scores(self, classes: Sequence[Any], positive: Any) -> np.ndarray:
        """Positive-class scores of the rows without a label yet (for the CBPE estimate)."""
        column = [as_label(c, classes) for c in classes].index(positive)
        return np.array([r["scores"][column] for r, y in zip(self.records, self.labels)
                         if y is None and "scores" in r], dtype=float)

    def distribution(self) -> Dict[str, Any]:
        """Share of each predicted class, or quantiles of a predicted value."""
        values = [r["prediction"] for r in self.records]
        if not values:
            return {}
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            q = np.quantile(np.array(values, dtype=float), [0.1, 0.5, 0.9])
            return {"mean": float(np.mean(values)), "p10": float(q[0]), "p50": float(q[1]), "p90": float(q[2])}
        counts = Counter(str(v) for v in values)
        return {label: round(n / len(values), 4) for label, n in sorted(counts.items())}


def _features_key(record: Dict[str, Any]) -> str:
    return json.dumps(record.get("features"), sort_keys=True, default=str)


def variant_records(directory: Path, versions: Dict[str, str], since: float, classes: Sequence[Any] = (),
                    shadow: bool = False) -> Dict[str, VariantRecords]:
    """{role: VariantRecords} for `versions` ({'champion': '3', 'challenger': '4'}) since `since` (epoch s)."""
    labels = labels_by_id(Path(directory), classes)
    arrived = {str(r["id"]): float(r.get("t", 0.0)) for r in live_store.feedback_records(Path(directory))}
    by_version = {str(v): VariantRecords(role, str(v)) for role, v in versions.items()}
    # A daemon started before records carried the model version (an earlier release of this code) can only be the
    # champion: a challenger is always started by the A/B code, which stamps its records.
    unstamped = by_version.get(str(versions.get("champion", "")))
    for record in live_store.prediction_records(Path(directory)):
        variant = by_version.get(str(record["version"])) if record.get("version") else unstamped
        if variant is not None and record.get("t", 0) >= since:
            variant.records.append(record)
    for variant in by_version.values():
        variant.records.sort(key=lambda r: r["t"])
        variant.labels = [labels.get(r["id"]) for r in variant.records]
        variant.labelled_at = [arrived.get(r["id"]) for r in variant.records]
    out = {v.role: v for v in by_version.values()}
    if shadow and "champion" in out and "challenger" in out:
        champion = out["champion"]
        by_features = {_features_key(r): (y, t) for r, y, t in zip(champion.records, champion.labels,
                                                                     champion.labelled_at) if y is not None}
        challenger = out["challenger"]
        matched = [by_features.get(_features_key(r), (None, None)) for r in challenger.records]
        challenger.labels = [y for y, _ in matched]
        challenger.labelled_at = [t for _, t in matched]
    return out
