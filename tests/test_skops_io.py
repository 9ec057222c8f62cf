"""Models are (de)serialised with skops under an allowlist: no pickle, no foreign types."""

import pytest
from sklearn.linear_model import LogisticRegression

from materializers.skops_io import UntrustedModelError, dumps, loads, trusted_types


class Sneaky(LogisticRegression):
    pass


def test_round_trip_of_a_fitted_model():
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    again = loads(dumps(model))
    assert again.predict([[0.2], [2.8]]).tolist() == [0, 1]


def test_types_outside_the_allowlist_are_refused():
    model = Sneaky().fit([[0.0], [1.0]], [0, 1])
    import skops.io as sio

    with pytest.raises(UntrustedModelError, match="outside the serving allowlist.*tests.test_skops_io.Sneaky"):
        trusted_types(sio.dumps(model))


def test_builtins_that_run_code_are_not_trusted():
    from materializers.skops_io import _allowlisted

    with pytest.raises(UntrustedModelError, match="builtins.eval"):
        _allowlisted(["sklearn.linear_model._logistic.LogisticRegression", "builtins.eval"])
