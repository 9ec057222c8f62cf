"""The skops allowlist is exactly the types the training model factory builds, and nothing else gets through."""

from __future__ import annotations

import pytest
import skops.io

from typing import get_args

from core.config import CalibrationSection
from serving.artifact import TRUSTED_TYPES, ModelArtifactError, trusted_types
from steps.training.calibration import calibrated
from tests.serving.model_factory import fit_model, make_frame, make_target, malicious_model, supported_combinations

CALIBRATION_METHODS = get_args(get_args(CalibrationSection.model_fields["methods"].annotation)[0])

# Settings of the factory's estimators that change which types a fitted model holds (HGB's loss objects).
TYPE_CHANGING_PARAMS = {
    ("hist_gradient_boosting", "regression"): [
        {"loss": "absolute_error"}, {"loss": "gamma"}, {"loss": "poisson"}, {"loss": "quantile", "quantile": 0.9},
    ],
    ("hist_gradient_boosting", "binary"): [{"early_stopping": True}],
}


def _types_the_factory_builds():
    frame = make_frame(200, seed=3)
    frame["income"] = frame["income"].abs() + 1  # gamma/poisson targets are derived from it: keep them positive
    found = {}
    for estimator, task in supported_combinations():
        for params in [{}] + TYPE_CHANGING_PARAMS.get((estimator, task), []):
            model, X, _ = fit_model(estimator, task, frame=frame, params=params)
            variants = {"": model}
            if task != "regression":  # the calibration step's variants of the same model
                variants.update({f" calibrated by {m}": calibrated(model, X, make_target(X, task), m)
                                 for m in CALIBRATION_METHODS})
            for label, variant in variants.items():
                for name in skops.io.get_untrusted_types(data=skops.io.dumps(variant)):
                    found.setdefault(name, []).append(f"{estimator}/{task} {params or ''}{label}")
    return found


def test_the_allowlist_is_exactly_what_the_model_factory_builds():
    found = _types_the_factory_builds()
    missing = sorted(set(found) - TRUSTED_TYPES)
    assert not missing, f"the factory builds types the allowlist lacks: {[(t, found[t][:2]) for t in missing]}"
    unused = sorted(TRUSTED_TYPES - set(found))
    assert not unused, f"allowlisted types no factory model needs (remove them): {unused}"


def test_a_function_of_a_trusted_package_is_refused_by_name():
    model, _, _ = malicious_model()
    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    assert "numpy.load" in untrusted
    with pytest.raises(ModelArtifactError, match=r"outside the serving allowlist: numpy\.load\."):
        trusted_types(untrusted)
