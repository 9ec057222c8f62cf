"""Drift from saved profiles: flagged for an injected shift, not for a fresh batch; unseen categories always."""

import re

import numpy as np
import pandas as pd
import pytest

from steps.data.generator import NUMERIC, UNSEEN_REGION
from steps.data.profiling import profile_frame
from steps.monitoring.drift import (
    DriftReport,
    compute_drift,
    hellinger_from_views,
    prediction_frame,
)


def test_fresh_batch_from_same_distribution_is_not_flagged(load):
    report = compute_drift(load("reference"), load("fresh"))
    assert not report.detected, {c.column: c.hellinger for c in report.columns}
    assert report.drift_share == 0.0 and report.drifted_columns == []
    assert max(report.scores().values()) < 0.08  # clear of the 0.1 default threshold


def test_injected_shift_is_flagged_on_every_shifted_feature(load):
    report = compute_drift(load("reference"), load("shifted"))
    assert report.detected
    assert set(NUMERIC) <= set(report.drifted_columns)
    assert report.drift_share >= 0.7
    region = report.column("region")
    assert region.unseen_categories == [UNSEEN_REGION] and region.drifted
    # whylogs' tests are kept as evidence: KS for numbers, chi-square for categories.
    assert report.column("age").evidence_algorithm == "ks" and report.column("age").evidence_pvalue < 0.01
    assert report.column("plan").evidence_algorithm == "chi-square"


def test_drift_is_deterministic_for_the_same_saved_profiles(load):
    first = compute_drift(load("reference"), load("mild")).to_dict()
    second = compute_drift(load("reference"), load("mild")).to_dict()
    assert first == second


def test_unseen_category_is_flagged_even_when_rare():
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"plan": rng.choice(["basic", "premium"], 2000).astype(object)})
    current = reference.copy()
    current.loc[0, "plan"] = "enterprise"  # one row in 2000: negligible Hellinger, still a new category
    report = compute_drift(profile_frame(reference), profile_frame(current))
    entry = report.column("plan")
    assert entry.hellinger < 0.05
    assert entry.drifted and entry.unseen_categories == ["enterprise"]
    assert report.detected


def test_hellinger_bounds():
    rng = np.random.default_rng(1)
    a = profile_frame(pd.DataFrame({"x": rng.normal(0, 1, 3000), "c": rng.choice(["a", "b"], 3000).astype(object)}))
    far = profile_frame(pd.DataFrame({"x": rng.normal(50, 1, 3000), "c": rng.choice(["y", "z"], 3000).astype(object)}))
    assert hellinger_from_views(a, a, "x") == 0.0
    assert hellinger_from_views(a, a, "c") == 0.0
    assert hellinger_from_views(a, far, "x") > 0.99
    assert hellinger_from_views(a, far, "c") > 0.99


def test_constant_column_that_changes_value_is_flagged():
    ref = profile_frame(pd.DataFrame({"x": np.full(500, 5.0)}))
    cur = profile_frame(pd.DataFrame({"x": np.full(500, 7.0)}))
    assert compute_drift(ref, cur).column("x").hellinger == 1.0


def test_per_feature_thresholds_change_the_verdict(load):
    base = compute_drift(load("reference"), load("mild"))
    age = base.column("age").hellinger
    strict = compute_drift(load("reference"), load("mild"), thresholds={"age": age / 2})
    lenient = compute_drift(load("reference"), load("mild"), thresholds={"age": min(1.0, age * 2)})
    assert strict.column("age").drifted and not lenient.column("age").drifted
    assert strict.column("age").threshold == pytest.approx(age / 2)


def test_bad_arguments_are_named(load):
    ref, cur = load("reference"), load("fresh")
    with pytest.raises(ValueError, match=r"columns \['nope'\] are not in the reference profile"):
        compute_drift(ref, cur, columns=["nope"])
    with pytest.raises(ValueError, match=r"thresholds given for columns that are not compared: \['income'\]"):
        compute_drift(ref, cur, thresholds={"income": 0.2})
    with pytest.raises(ValueError, match=r"drift threshold for 'age': expected a number in \(0, 1\], got 2"):
        compute_drift(ref, cur, thresholds={"age": 2})


def test_column_missing_from_current_batch_counts_as_drift(load):
    reference = load("reference")
    current = profile_frame(pd.DataFrame({"age": np.arange(18, 90)}))
    report = compute_drift(reference, current, columns=["age", "plan"])
    assert report.column("plan").drifted and "missing" in report.column("plan").note


def test_prediction_drift_uses_the_same_machinery():
    rng = np.random.default_rng(3)
    proba_ref = rng.beta(2, 5, 2000)
    proba_cur = rng.beta(5, 2, 2000)  # the model now predicts churn far more often
    ref = prediction_frame((proba_ref > 0.5).astype(int), np.c_[1 - proba_ref, proba_ref], classes=[0, 1])
    cur = prediction_frame((proba_cur > 0.5).astype(int), np.c_[1 - proba_cur, proba_cur], classes=[0, 1])
    assert list(ref.columns) == ["prediction", "proba_0", "proba_1"]
    report = compute_drift(profile_frame(ref), profile_frame(cur))
    assert report.column("prediction").kind == "categorical"
    assert {"prediction", "proba_1"} <= set(report.drifted_columns)
    same = compute_drift(profile_frame(ref), profile_frame(ref))
    assert not same.detected


def test_report_round_trips_and_renders_self_contained_html(load):
    report = compute_drift(load("reference"), load("shifted"))
    again = DriftReport.from_json(report.to_json())
    assert again == report
    page = report.to_html()
    assert page.count("data:image/png;base64,") == 1  # one figure holding every histogram
    assert "<tr class='fail'><td>region</td>" in page and UNSEEN_REGION in page
    assert not re.search(r"(src|href)=['\"]https?://", page)  # no external assets


def test_infinite_values_keep_the_report_valid_json():
    import json
    import math

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=2000), rng.normal(size=2000)
    a[::100], b[::50] = np.inf, -np.inf
    report = compute_drift(profile_frame(pd.DataFrame({"x": a})), profile_frame(pd.DataFrame({"x": b})))
    entry = report.column("x")
    assert entry.drifted  # 2% of values moved from +inf to -inf
    assert all(math.isfinite(e) for pair in entry.bins for e in pair)
    json.loads(report.to_json(), parse_constant=lambda c: pytest.fail(f"non-finite {c} in report JSON"))
    report.to_html()
