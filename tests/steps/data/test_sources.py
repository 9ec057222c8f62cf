"""Loading datasets from the generator, scikit-learn and files, and every user error with its message."""

import pandas as pd
import pytest

from steps.data.generator import TARGET, generate_batch
from steps.data.sources import DataSourceError, load_dataset


@pytest.fixture()
def small():
    return generate_batch(200, seed=1)


def test_synthetic_is_the_default(small):
    loaded = load_dataset(n_rows=200, seed=1)
    assert loaded.target == TARGET and loaded.source.startswith("synthetic")
    pd.testing.assert_frame_equal(loaded.frame, small)
    assert load_dataset("synthetic", n_rows=50).frame.shape[0] == 50


@pytest.mark.parametrize("name, shape", [
    ("iris", (150, 5)), ("wine", (178, 14)), ("breast_cancer", (569, 31)), ("diabetes", (442, 11)),
    ("digits", (1797, 65)),
])
def test_bundled_sklearn_datasets(name, shape):
    loaded = load_dataset(f"sklearn:{name}")
    assert loaded.frame.shape == shape and loaded.target == "target" and loaded.source == f"sklearn:{name}"


def test_csv_and_parquet_round_trip(tmp_path, small):
    csv, parquet, pq = tmp_path / "d.csv", tmp_path / "d.parquet", tmp_path / "d.pq"
    small.to_csv(csv, index=False)
    small.to_parquet(parquet, index=False)
    small.to_parquet(pq, index=False)
    from_csv = load_dataset(str(csv), target=TARGET)
    assert from_csv.source == str(csv.resolve()) and from_csv.frame.shape == small.shape
    pd.testing.assert_frame_equal(load_dataset(str(parquet), target=TARGET).frame, small)
    pd.testing.assert_frame_equal(load_dataset(str(pq), target=TARGET).frame, small)


def _error(*args, **kwargs) -> str:
    with pytest.raises(DataSourceError) as info:
        load_dataset(*args, **kwargs)
    return str(info.value)


def test_missing_file_names_the_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = _error("nope.csv", target="y")
    assert "data file not found" in message and str(tmp_path / "nope.csv") in message


def test_unsupported_file_type_lists_supported(tmp_path):
    path = tmp_path / "d.xlsx"
    path.write_text("a,b\n1,2\n")
    message = _error(str(path), target="a")
    assert "unsupported file type '.xlsx'" in message and ".csv, .parquet, .pq" in message


def test_empty_file_and_header_only_file(tmp_path):
    empty, header = tmp_path / "empty.csv", tmp_path / "header.csv"
    empty.write_text("")
    header.write_text("a,b,y\n")
    assert "data file is empty" in _error(str(empty), target="y")
    assert "header but no rows" in _error(str(header), target="y")
    blank_lines = tmp_path / "blank.csv"
    blank_lines.write_text("\n\n\n")
    assert "empty" in _error(str(blank_lines), target="y")


def test_unparseable_files(tmp_path):
    broken_parquet = tmp_path / "broken.parquet"
    broken_parquet.write_text("this is not parquet")
    assert f"could not parse {broken_parquet} as Parquet" in _error(str(broken_parquet), target="y")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3,4,5,6\n")
    assert f"could not parse {ragged} as CSV" in _error(str(ragged), target="a")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(128, 256)) * 4)
    assert "could not parse" in _error(str(binary), target="a")


def test_unknown_target_suggests_a_close_match(tmp_path, small):
    path = tmp_path / "d.csv"
    small.to_csv(path, index=False)
    message = _error(str(path), target="churn")
    assert "target column 'churn' not found" in message and "Did you mean 'churned'?" in message
    assert "'customer_id'" in message and "'plan'" in message
    assert "Did you mean 'target'?" in _error("sklearn:iris", target="Target")


def test_file_requires_a_target(tmp_path, small):
    path = tmp_path / "d.csv"
    small.to_csv(path, index=False)
    message = _error(str(path))
    assert "target column is required" in message and "--target" in message and "'churned'" in message


def test_unknown_sklearn_dataset_lists_names():
    message = _error("sklearn:titanic")
    assert "unknown scikit-learn dataset 'titanic'" in message
    assert all(f"sklearn:{n}" in message for n in ("iris", "wine", "breast_cancer", "diabetes", "digits"))


def test_directory_and_bad_row_count(tmp_path):
    assert "is a directory" in _error(str(tmp_path), target="y")
    assert "n_rows must be a positive integer" in _error("synthetic", n_rows=0)
