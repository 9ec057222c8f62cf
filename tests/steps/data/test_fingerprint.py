"""The dataset fingerprint: stable across processes and layouts, sensitive to names, dtypes and values."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from steps.data.fingerprint import fingerprint_file, fingerprint_frame
from steps.data.generator import generate_batch

ROOT = Path(__file__).resolve().parents[3]


def test_format_and_same_value_across_processes():
    fp = fingerprint_frame(generate_batch(300, seed=2))
    assert fp.startswith("sha256:") and len(fp) == len("sha256:") + 64
    code = "from steps.data.generator import generate_batch; from steps.data.fingerprint import fingerprint_frame; " \
           "print(fingerprint_frame(generate_batch(300, seed=2)))"
    other = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                           env={"PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "123", "PATH": ""})
    assert other.stdout.strip() == fp


def test_independent_of_index_and_memory_layout():
    values = np.arange(60, dtype=float).reshape(20, 3)
    c_order = pd.DataFrame(np.ascontiguousarray(values), columns=list("abc"))
    f_order = pd.DataFrame(np.asfortranarray(values), columns=list("abc"))
    shifted = c_order.set_index(c_order.index + 100)
    assert fingerprint_frame(c_order) == fingerprint_frame(f_order) == fingerprint_frame(shifted)
    assert fingerprint_frame(c_order) == fingerprint_frame(c_order.copy())


def test_sensitive_to_values_names_dtypes_and_order():
    df = generate_batch(300, seed=2)
    base = fingerprint_frame(df)
    changed = df.copy()
    changed.loc[17, "monthly_charges"] += 0.01
    renamed = df.rename(columns={"plan": "tier"})
    retyped = df.astype({"age": "float64"})
    reordered = df[list(reversed(df.columns))]
    shuffled = df.iloc[::-1]
    variants = [changed, renamed, retyped, reordered, shuffled, df.head(299)]
    fingerprints = {base, *(fingerprint_frame(v) for v in variants)}
    assert len(fingerprints) == len(variants) + 1


def test_handles_unhashable_objects():
    df = pd.DataFrame({"a": [[1, 2], {"k": 1}, None]})
    assert fingerprint_frame(df) == fingerprint_frame(df.copy())
    assert fingerprint_frame(df) != fingerprint_frame(pd.DataFrame({"a": [[1, 3], {"k": 1}, None]}))


def test_file_fingerprint_follows_content(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,2\n")
    first = fingerprint_file(str(path))
    assert first == fingerprint_file(str(path)) and first.startswith("sha256:")
    path.write_text("a,b\n1,3\n")
    assert fingerprint_file(str(path)) != first
