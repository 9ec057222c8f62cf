"""Which rows champion and challenger are compared on: only rows neither of them trained on (plain functions).

The first comparison is the challenger's holdout without any row the champion trained on; for a retrain that
holdout is the most recent labelled window, where the champion decayed. The second is the champion's holdout (the
previous holdout) without any row the challenger trained on. Leakage is impossible by construction: each set is
filtered by the other model's training-row fingerprints, then both are checked against both models.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional, Tuple

import pandas as pd

from steps.data.rows import RowLeakError, SplitManifest, assert_unseen, unseen_rows
from steps.data.schema import DataSchema
from steps.deployment.gate import Comparison

RECENT_WINDOW = "recent window"
CHALLENGER_HOLDOUT = "challenger holdout"
PREVIOUS_HOLDOUT = "previous holdout"


@dataclasses.dataclass
class ComparisonSet:
    name: str
    frame: pd.DataFrame
    excluded: int


def split_of(model_version: Any) -> SplitManifest:
    """The split manifest linked to a ZenML model version; rebuilt from its train/holdout sets for versions trained
    before manifests existed."""
    from core import names

    manifest = model_version.get_artifact(names.SPLIT_MANIFEST)
    if manifest is not None:
        return manifest.load()
    train, holdout = (model_version.get_artifact(n) for n in (names.TRAIN_SET, names.HOLDOUT_SET))
    if train is None or holdout is None:
        raise RowLeakError(f"model version {model_version.name} has neither a '{names.SPLIT_MANIFEST}' nor its "
                           "train/holdout sets: which rows it trained on is unknown, so no fair comparison is "
                           "possible; retrain it with this version of the project")
    return SplitManifest.build(train.load(), holdout.load(), method="unknown (rebuilt from the stored sets)")


def comparison_sets(
    challenger_holdout: pd.DataFrame,
    challenger_split: SplitManifest,
    champion_holdout: Optional[pd.DataFrame] = None,
    champion_split: Optional[SplitManifest] = None,
) -> Tuple[ComparisonSet, Optional[ComparisonSet]]:
    """(first set, previous holdout set or None without a champion), each unseen by both models."""
    first_name = RECENT_WINDOW if challenger_split.method == "time" else CHALLENGER_HOLDOUT
    if champion_split is None or champion_holdout is None:
        assert_unseen(challenger_holdout, challenger_split.train_keys(), challenger_split.columns, first_name)
        return ComparisonSet(first_name, challenger_holdout, 0), None
    first, n_first = unseen_rows(challenger_holdout, champion_split.train_keys(), champion_split.columns)
    previous, n_previous = unseen_rows(champion_holdout, challenger_split.train_keys(), challenger_split.columns)
    for split in (challenger_split, champion_split):  # the guarantee, checked against both models
        assert_unseen(first, split.train_keys(), split.columns, first_name)
        assert_unseen(previous, split.train_keys(), split.columns, PREVIOUS_HOLDOUT)
    return ComparisonSet(first_name, first, n_first), ComparisonSet(PREVIOUS_HOLDOUT, previous, n_previous)


class IncomparableModelsError(ValueError):
    """The champion needs columns that the comparison rows do not have."""


def model_features(model: Any, frame: pd.DataFrame, schema: DataSchema) -> list:
    """The columns `model` was fitted on (two versions of a model may use different features, e.g. after
    `train --drop`); the comparison rows must hold them all."""
    features = [str(c) for c in getattr(model, "feature_names_in_", schema.features)]
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise IncomparableModelsError(
            f"the comparison rows lack column(s) {', '.join(missing)} that a compared model needs; the champion and "
            "the candidate cannot be scored on the same rows. Deploy with --force to waive the comparison with "
            "the champion (thresholds and parity still apply)")
    return features


def score(model: Any, frame: pd.DataFrame, schema: DataSchema, bins: Optional[Dict[str, int]] = None) -> Any:
    """The model's EvaluationReport on `frame` (None for an empty frame), on the features the model was fitted on,
    with its primary metric per value of each categorical column and per quantile bin of the numeric columns in
    `bins` (bins from `frame`'s quantiles: the same for both models; every slice: the gate applies its own
    minimum)."""
    from steps.evaluation.metrics import evaluate, predict_with
    from steps.evaluation.slices import slice_metrics

    if frame.empty:
        return None
    y_pred, y_proba, classes = predict_with(model, frame[model_features(model, frame, schema)], schema.task)
    report = evaluate(frame[schema.target], y_pred, schema.task, y_proba, classes)
    slices = slice_metrics(frame, [c for c in schema.categorical if c in frame.columns], frame[schema.target],
                           y_pred, y_proba, schema.task, classes, 1, bins)
    return dataclasses.replace(report, slices=slices, min_slice_rows=1, slice_bins=dict(bins or {}))


def compare(subset: ComparisonSet, challenger: Any, champion: Optional[Any], schema: DataSchema,
            bins: Optional[Dict[str, int]] = None) -> Comparison:
    """Both models scored on the same rows, sliced alike."""
    new = score(challenger, subset.frame, schema, bins)
    old = score(champion, subset.frame, schema, bins) if champion is not None else None
    return Comparison(name=subset.name, rows=len(subset.frame), excluded=subset.excluded,
                      challenger=new.metrics if new else {}, champion=old.metrics if old else None,
                      challenger_slices=new.slices if new else [], champion_slices=old.slices if old else None)
