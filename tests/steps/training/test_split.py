"""Splits and split manifests: random with duplicates on one side, time-based on tables with timestamps."""

import numpy as np
import pandas as pd
import pytest

from steps.data.generator import TARGET, TIME_COLUMN, generate_batch
from steps.data.rows import RowLeakError, SplitManifest, row_fingerprints
from steps.training.split import SplitError, calibration_rows, split_frame, timestamp_column


@pytest.fixture(scope="module")
def days():
    """Three days of records, shuffled: the split must find the time order itself."""
    frame = pd.concat([generate_batch(200, seed=1, day=d) for d in range(3)], ignore_index=True)
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


def test_time_split_holds_out_the_most_recent_rows(days):
    train, holdout = split_frame(days, TARGET, "binary", test_size=0.25, method="time", time_column=TIME_COLUMN)
    assert len(holdout) == 150 and len(train) == 450
    assert train[TIME_COLUMN].max() <= holdout[TIME_COLUMN].min()
    assert holdout[TIME_COLUMN].is_monotonic_increasing


def test_time_split_takes_an_exact_number_of_rows_and_text_times(days):
    text = days.assign(**{TIME_COLUMN: days[TIME_COLUMN].dt.strftime("%Y-%m-%d %H:%M:%S")})
    train, holdout = split_frame(text, TARGET, "binary", method="time", time_column=TIME_COLUMN, holdout_rows=200)
    assert len(holdout) == 200 and set(holdout[TIME_COLUMN].str[:10]) == {"2026-01-03"}
    assert pd.to_datetime(train[TIME_COLUMN]).max() <= pd.to_datetime(holdout[TIME_COLUMN]).min()


def test_time_split_without_time_column_uses_row_order(days):
    train, holdout = split_frame(days, TARGET, "binary", method="time", holdout_rows=100)
    pd.testing.assert_frame_equal(holdout, days.tail(100).reset_index(drop=True))


def test_time_split_errors_name_the_problem(days):
    with pytest.raises(SplitError, match="'when' is not a column"):
        split_frame(days, TARGET, "binary", method="time", time_column="when")
    gaps = days.assign(**{TIME_COLUMN: days[TIME_COLUMN].mask(days.index < 3)})
    with pytest.raises(SplitError, match="3 of 600 rows have no valid time"):
        split_frame(gaps, TARGET, "binary", method="time", time_column=TIME_COLUMN)
    with pytest.raises(SplitError, match="split.method"):
        split_frame(days, TARGET, "binary", method="by-day")


def test_detected_timestamp_column_is_the_default_time_column():
    dropped = {"customer_id": "identifier: 600 unique values", "event_time": "timestamp (datetime64[ns])"}
    assert timestamp_column(dropped) == "event_time"
    assert timestamp_column(dropped, "signup_date") == "signup_date"
    assert timestamp_column({"customer_id": "identifier"}) is None


def test_random_split_keeps_duplicate_rows_on_one_side():
    frame = generate_batch(300, seed=4).drop(columns=["customer_id", TIME_COLUMN])
    frame = pd.concat([frame, frame.head(60)], ignore_index=True)  # 60 exact repeats
    train, holdout = split_frame(frame, TARGET, "binary", test_size=0.3, seed=1)
    assert len(train) + len(holdout) == len(frame)
    assert not np.isin(row_fingerprints(holdout), row_fingerprints(train)).any()
    SplitManifest.build(train, holdout, "random")  # disjoint, so no error


def test_manifest_refuses_overlap_and_round_trips(days):
    with pytest.raises(RowLeakError, match="5 holdout row\\(s\\) are also training rows"):
        SplitManifest.build(days, days.head(5), "random")
    train, holdout = split_frame(days, TARGET, "binary", method="time", time_column=TIME_COLUMN)
    manifest = SplitManifest.build(train, holdout, "time", TIME_COLUMN, "2026-01-03")
    again = SplitManifest.from_json(manifest.to_json())
    assert again == manifest and set(again.train_keys()) == set(row_fingerprints(train))
    assert f"<b>{len(train)}</b> training rows, <b>{len(holdout)}</b> holdout rows" in again.to_html()


def test_row_fingerprints_survive_storage_and_dtype_changes(days, tmp_path):
    path = tmp_path / "rows.parquet"
    days.to_parquet(path, index=False)
    stored = pd.read_parquet(path)
    reordered = stored[list(reversed(stored.columns))].astype({"age": "float64", "support_calls": "int32"})
    assert (row_fingerprints(reordered) == row_fingerprints(days)).all()
    changed = days.copy()
    changed.loc[0, "age"] += 1
    assert (row_fingerprints(changed) != row_fingerprints(days)).sum() == 1


def test_calibration_rows_are_training_rows_recorded_in_the_manifest():
    frame = generate_batch(400, seed=5).drop(columns=["customer_id", TIME_COLUMN])
    frame = pd.concat([frame, frame.head(40)], ignore_index=True)  # repeats stay on one side of the calibration cut
    train, holdout = split_frame(frame, TARGET, "binary", test_size=0.2, seed=1)
    aside = calibration_rows(train, TARGET, "binary", 0.25, seed=1)
    assert 0.2 < aside.mean() < 0.3
    assert not np.isin(row_fingerprints(train[aside]), row_fingerprints(train[~aside])).any()
    manifest = SplitManifest.from_json(SplitManifest.build(train, holdout, "random", calibration=aside).to_json())
    assert manifest.n_calibration == aside.sum() and manifest.n_train == len(train)
    # calibration rows count as seen: the gate never compares a model on them
    assert set(manifest.calibration_keys()) <= set(manifest.train_keys())
    np.testing.assert_array_equal(manifest.calibration_mask(train), aside)
    assert f"{aside.sum()} of the training rows are set aside to calibrate" in manifest.to_html()
    assert not SplitManifest.build(train, holdout, "random").calibration_mask(train).any()
    with pytest.raises(SplitError, match="training.calibration.share: expected a fraction"):
        calibration_rows(train, TARGET, "binary", 1.0, seed=1)
