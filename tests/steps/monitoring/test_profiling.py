"""Fast profiling must give whylogs' own figures: same counts as `why.log`, chunked or not."""

import numpy as np
import pandas as pd
import pytest

from steps.data.generator import generate_batch
from steps.data.profiling import load_profile, profile_counts, profile_frame, save_profile
from core.whylogs_env import why

# whylogs itself warns computing the variance of a column holding inf; the counts are what we check.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(scope="module")
def awkward_frame() -> pd.DataFrame:
    """Every dtype path: floats with NaN and inf, ints, strings with None and NaN, bools, timestamps, ids."""
    frame = generate_batch(12_000, seed=7, drift=0.2)
    rng = np.random.default_rng(0)
    frame["flag"] = rng.random(len(frame)) < 0.3
    frame.loc[::997, "monthly_charges"] = np.inf
    frame.loc[::89, "plan"] = None
    frame["all_null"] = np.nan
    frame["mixed"] = pd.Series([1, "a", 2.5, None] * (len(frame) // 4), dtype=object)
    return frame


def test_single_pass_counts_equal_why_log(awkward_frame):
    expected = profile_counts(why.log(awkward_frame).view())
    got = profile_counts(profile_frame(awkward_frame))
    assert got == expected
    assert got["monthly_charges"]["counts/inf"] > 0 and got["total_charges"]["counts/null"] > 0
    assert got["plan"]["counts/null"] > 0 and got["flag"]["types/boolean"] == len(awkward_frame)


def test_chunked_parallel_counts_equal_single_pass(awkward_frame):
    single = profile_frame(awkward_frame, n_jobs=1)
    chunked = profile_frame(awkward_frame, n_jobs=2, chunk_rows=2_500)
    assert profile_counts(chunked) == profile_counts(single)
    assert list(chunked.get_columns()) == list(awkward_frame.columns)  # frame order, not set order
    ref_kll = single.get_column("age").get_metric("distribution").kll.value
    got_kll = chunked.get_column("age").get_metric("distribution").kll.value
    assert got_kll.get_n() == ref_kll.get_n() == len(awkward_frame)
    assert abs(got_kll.get_quantile(0.5) - ref_kll.get_quantile(0.5)) <= 1


def test_save_and_load_round_trip(tmp_path, awkward_frame):
    view = profile_frame(awkward_frame.head(3000))
    path = save_profile(view, tmp_path / "nested" / "profile.bin")
    loaded = load_profile(path)
    assert profile_counts(loaded) == profile_counts(view)
    assert sorted(loaded.get_columns()) == sorted(view.get_columns())


def test_errors_name_the_problem(tmp_path):
    frame = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(ValueError, match="duplicate column names: \\['a'\\]"):
        profile_frame(frame)
    with pytest.raises(ValueError, match="n_jobs must be >= 1"):
        profile_frame(pd.DataFrame({"a": [1]}), n_jobs=0)
    with pytest.raises(TypeError, match="expects a pandas DataFrame, got list"):
        profile_frame([1, 2])
    with pytest.raises(FileNotFoundError, match="no whylogs profile at"):
        load_profile(tmp_path / "missing.bin")


def test_categorical_sketches_equal_why_log(awkward_frame):
    """Low-cardinality strings take weighted updates: frequent items and cardinality must still match exactly."""
    expected, got = why.log(awkward_frame).view(), profile_frame(awkward_frame)
    for name in ("contract_type", "payment_method", "region", "plan"):
        exp_col, got_col = expected.get_column(name), got.get_column(name)
        assert got_col.get_metric("cardinality").estimate == exp_col.get_metric("cardinality").estimate
        assert got_col.get_metric("frequent_items").strings == exp_col.get_metric("frequent_items").strings


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"a": pd.Series([], dtype=float), "s": pd.Series([], dtype=object)}),
        pd.DataFrame({"s": [None, None, np.nan]}, dtype=object),
        pd.DataFrame({"c": pd.Categorical(["a", "b", "a"]), "n": pd.array([1, None, 3], dtype="Int64"),
                      "s": pd.array(["x", None, "y"], dtype="string")}),
    ],
    ids=["empty", "all-null-strings", "extension-dtypes"],
)
def test_edge_frames_match_why_log(frame):
    assert profile_counts(profile_frame(frame)) == profile_counts(why.log(frame).view())
