"""Retraining and the champion/challenger comparison, without ZenML: rows a model trained on never score it.

The models are the project's own recipe (build_model + tune), kept small so the module runs in seconds.
"""

import numpy as np
import pandas as pd
import pytest

from steps.data.columns import plan_features
from core.frames import normalize_missing
from steps.data.generator import TARGET, TIME_COLUMN, generate_batch
from steps.data.rows import RowLeakError, SplitManifest, assert_unseen, row_fingerprints
from steps.data.schema import DataSchema
from steps.deployment.comparison import PREVIOUS_HOLDOUT, RECENT_WINDOW, compare, comparison_sets
from steps.deployment.gate import decide
from steps.training.model_factory import build_model, search_space
from steps.training.retraining import RetrainingError, assemble
from steps.training.search import tune
from steps.training.split import split_frame

MIN_METRICS = {"roc_auc": 0.70, "accuracy": 0.65}  # configs/deployment.yaml, binary


class Trained:
    """A model with the rows it trained on and was held out on, as the training pipeline records them."""

    def __init__(self, table, method="random", holdout_rows=None):
        table = normalize_missing(table)
        plan = plan_features(table, TARGET, "binary")
        self.schema = DataSchema(source="test", fingerprint="", n_rows=len(table), target=TARGET, task="binary",
                                 numeric=plan.numeric, categorical=plan.categorical, dropped=plan.dropped,
                                 decisions=[], contract={})
        time_column = TIME_COLUMN if method == "time" else None
        self.train, self.holdout = split_frame(table, TARGET, "binary", method=method, time_column=time_column,
                                               holdout_rows=holdout_rows)
        self.split = SplitManifest.build(self.train, self.holdout, method, time_column)
        model = build_model(plan.numeric, plan.categorical, "binary", "hist_gradient_boosting", {}, 42)
        grid = search_space({"max_depth": [3]}, "hist_gradient_boosting", "binary")
        self.model, _, _ = tune(model, self.train[plan.features], self.train[TARGET], "binary", grid, method="grid",
                             cv_folds=2, n_iter=1, scoring=None, seed=42)


@pytest.fixture(scope="module")
def champion():
    return Trained(generate_batch(2000, seed=42))


def _recent(drift, days=(1, 2, 3), rows=1000):
    return [generate_batch(rows, seed=100 + d, drift=drift, day=d) for d in days]


def _retrain(champion, batches, share=0.3):
    data = assemble(champion.train, champion.split, batches, TARGET, share)
    return data, Trained(data.table, "time", data.holdout_rows)


@pytest.fixture(scope="module")
def retrained(champion):
    """Retraining after strong drift, with a few rows the champion already saw mixed into the new batches."""
    batches = _recent(1.0)
    batches.append(pd.concat([champion.train.head(40), champion.holdout.head(30)]))
    return _retrain(champion, batches)


def _gate(champion, challenger):
    recent, previous = comparison_sets(challenger.holdout, challenger.split, champion.holdout, champion.split)
    comparisons = [compare(s, challenger.model, champion.model, challenger.schema) for s in (recent, previous)]
    first = comparisons[0]
    return decide("2", first.challenger, "roc_auc", MIN_METRICS, 0.005, "1", first.champion,
                  recent=first, previous=comparisons[1], max_previous_loss=0.02, min_rows=30), (recent, previous)


def test_first_training_rows_are_disjoint(champion):
    assert not np.isin(row_fingerprints(champion.holdout), champion.split.train_keys()).any()
    recent, previous = comparison_sets(champion.holdout, champion.split)
    assert previous is None and len(recent.frame) == len(champion.holdout)


def test_retraining_holds_out_the_newest_new_rows_and_never_reuses_champion_rows(champion, retrained):
    data, challenger = retrained
    assert data.n_reference == len(champion.train) and data.n_new == 3000 and data.n_already_seen == 70
    assert data.holdout_rows == 900 and len(challenger.holdout) == 900
    assert challenger.holdout[TIME_COLUMN].min() >= challenger.train[TIME_COLUMN].max()
    assert set(challenger.holdout[TIME_COLUMN].dt.day) == {4}  # the latest day: the recent window
    # The champion's holdout stays unseen by the challenger; the recent window is unseen by both.
    assert not np.isin(challenger.split.train_keys(), champion.split.holdout_keys()).any()
    assert not np.isin(challenger.split.holdout_keys(), champion.split.train_keys()).any()


def test_comparison_rows_are_unseen_by_both_models(champion, retrained):
    _, challenger = retrained
    recent, previous = comparison_sets(challenger.holdout, challenger.split, champion.holdout, champion.split)
    assert recent.name == RECENT_WINDOW and previous.name == PREVIOUS_HOLDOUT
    for subset in (recent, previous):
        for model in (champion, challenger):
            assert not np.isin(row_fingerprints(subset.frame, model.split.columns), model.split.train_keys()).any()


def test_champion_scored_on_its_own_training_rows_is_impossible(champion):
    # The old recipe: a challenger trained on the champion's data plus more, split at random. Its holdout contains
    # rows the champion trained on; they are left out of the comparison, never scored.
    naive = Trained(pd.concat([champion.train, champion.holdout, *_recent(0.5, rows=500)], ignore_index=True))
    recent, previous = comparison_sets(naive.holdout, naive.split, champion.holdout, champion.split)
    overlap = np.isin(row_fingerprints(naive.holdout, champion.split.columns), champion.split.train_keys()).sum()
    assert overlap > 100 and recent.excluded == overlap and len(recent.frame) == len(naive.holdout) - overlap
    assert previous.excluded > 0  # the champion's holdout rows the naive challenger trained on
    with pytest.raises(RowLeakError, match="seen in training"):
        assert_unseen(naive.holdout, champion.split.train_keys(), champion.split.columns, "challenger holdout")


def test_retraining_that_helps_is_deployed(champion, retrained):
    _, challenger = retrained
    decision, _ = _gate(champion, challenger)
    assert decision.deploy, decision.reasons
    assert [c.name for c in decision.comparisons] == [RECENT_WINDOW, PREVIOUS_HOLDOUT]
    assert decision.comparisons[0].challenger["roc_auc"] > decision.comparisons[0].champion["roc_auc"] + 0.005


def test_unlearnable_new_data_is_refused_with_the_reason(champion):
    rng = np.random.default_rng(0)
    noise = [b.assign(**{TARGET: rng.integers(0, 2, len(b))}) for b in _recent(1.0)]  # labels unrelated to features
    _, challenger = _retrain(champion, noise)
    decision, _ = _gate(champion, challenger)
    assert not decision.deploy
    assert any("below the required 0.7 on the recent window" in f for f in decision.failures), decision.failures


def test_nothing_new_to_learn_is_an_error(champion):
    with pytest.raises(RetrainingError, match="no labelled rows"):
        assemble(champion.train, champion.split, [generate_batch(100, seed=9).drop(columns=[TARGET])], TARGET, 0.3)
    with pytest.raises(RetrainingError, match="too few"):
        assemble(champion.train, champion.split, [champion.holdout.head(1)], TARGET, 0.3)


def test_both_models_are_scored_per_slice_on_the_same_rows_and_the_slice_gate_names_losses(champion, retrained):
    _, challenger = retrained
    decision, _ = _gate(champion, challenger)
    recent = decision.comparisons[0]
    keys = [(s["feature"], s["value"], s["rows"]) for s in recent.challenger_slices]
    assert keys and sorted(keys) == sorted((s["feature"], s["value"], s["rows"]) for s in recent.champion_slices)
    assert {k[0] for k in keys} == set(challenger.schema.categorical)
    assert sum(s["rows"] for s in recent.challenger_slices if s["feature"] == keys[0][0]) == recent.rows
    champion_score = {(s["feature"], s["value"]): s["score"] for s in recent.champion_slices}
    losing = sorted(f"{s['feature']}={s['value']}" for s in recent.challenger_slices if s["rows"] >= 30
                    and s["score"] is not None and champion_score[(s["feature"], s["value"])] is not None
                    and s["score"] < champion_score[(s["feature"], s["value"])] - 0.01)
    strict = decide("2", recent.challenger, "roc_auc", MIN_METRICS, 0.005, "1", recent.champion, recent=recent,
                    max_slice_loss=0.01, min_slice_rows=30)
    named = sorted(f.split(" ")[1] for f in strict.failures if f.startswith("slice "))
    assert named == losing and strict.deploy == (not losing)
