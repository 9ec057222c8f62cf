#!/usr/bin/env python
"""The peer of the training pipeline: the same ML work as a plain script, without ZenML or MLflow.

Loads configs/training.yaml with the same overrides `run.py train` applies, then calls the same plain functions
the pipeline's steps call: generate (synthetic source) -> feature plan, contract and fingerprint -> whylogs profile
-> validate -> split -> build model + CV search over the configured space -> holdout evaluation -> skops bytes.
No artifact store, no experiment tracking, no registry: what is left when the orchestration is taken away.

Prints one line `PLAIN_RESULT {json}` with the seconds each stage took (bench/training.py reads it).

    python bench/plain_training.py --rows 100000 --seed 42
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict

_IMPORT_START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

# The same libraries the pipeline's steps use, imported here so that their cost is counted on both sides.
from materializers.skops_io import dumps  # noqa: E402
from core.config import TrainingConfig, load_config  # noqa: E402
from steps.data.columns import detect_task, plan_features, prepare_target  # noqa: E402
from steps.data.fingerprint import fingerprint_frame  # noqa: E402
from steps.data.profiling import profile_frame  # noqa: E402
from steps.data.sources import load_dataset  # noqa: E402
from steps.data.validation import infer_contract, require_valid, training_contract, validate_profile  # noqa: E402
from steps.evaluation.holdout import evaluate_holdout  # noqa: E402
from steps.training.model_factory import build_model, search_space  # noqa: E402
from steps.training.search import tune  # noqa: E402
from steps.training.calibration import choose_calibration, split_off  # noqa: E402
from steps.training.split import calibration_rows, split_frame  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - _IMPORT_START
RESULT_PREFIX = "PLAIN_RESULT "


class _Stages:
    """Times named stages in order."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        value = fn()
        self.seconds[name] = round(time.perf_counter() - start, 4)
        return value


def train_plain(rows: int, seed: int, config_path: str | None = None) -> Dict[str, Any]:
    """Runs the training work once; returns stage timings and the holdout metric (to compare with the pipeline)."""
    stages = _Stages()

    stages.seconds["imports"] = round(IMPORT_SECONDS, 4)
    # The overrides `run.py train --rows N --seed S` applies.
    overrides = {"data.n_rows": rows, "data.seed": seed, "split.seed": seed, "training.seed": seed}
    config = load_config(config_path or "training", TrainingConfig, overrides)
    data, val, split, training = config.data, config.validation, config.split, config.training

    loaded = stages.run("generate", lambda: load_dataset(data.source, target=data.target, n_rows=data.n_rows,
                                                         seed=data.seed))

    def ingest():
        task = detect_task(loaded.frame[loaded.target], None if data.task == "auto" else data.task)
        frame, _ = prepare_target(loaded.frame, loaded.target, task)
        plan = plan_features(frame, loaded.target, task)
        contract = infer_contract(frame, plan, min_rows=val.min_rows, null_slack=val.null_slack,
                                  range_slack=val.range_slack)
        return frame, plan, contract, fingerprint_frame(frame)

    frame, plan, _, _ = stages.run("plan_contract_fingerprint", ingest)
    profile = stages.run("profile", lambda: profile_frame(frame))
    stages.run("validate", lambda: require_valid(validate_profile(
        profile, training_contract(plan, min_rows=val.min_rows, max_null_fraction=val.max_null_fraction),
        check_target=True)))
    train, holdout = stages.run("split", lambda: split_frame(frame, plan.target, plan.task, test_size=split.test_size,
                                                             seed=split.seed))

    calibration = training.calibration
    aside = (stages.run("split_calibration", lambda: calibration_rows(train, plan.target, plan.task, calibration.share,
                                                                      split.seed))
             if calibration.enabled and plan.task != "regression" else None)
    fit_rows, calibration_set = split_off(train, aside)

    def fit():
        model = build_model(plan.numeric, plan.categorical, plan.task, training.estimator, training.params,
                            training.seed)
        grid = search_space(training.search.space, training.estimator, plan.task)
        search = training.search
        return tune(model, fit_rows[plan.features], fit_rows[plan.target], plan.task, grid, method=search.method,
                    cv_folds=search.cv_folds, n_iter=search.n_iter, scoring=search.scoring, seed=training.seed)

    model, search_report, _ = stages.run("train_search", fit)
    if aside is not None:
        model, _ = stages.run("calibrate", lambda: choose_calibration(
            model, calibration_set[plan.features], calibration_set[plan.target], holdout[plan.features],
            holdout[plan.target], calibration.methods))

    def holdout_eval():  # the pipeline's own evaluation: metrics, calibration, importance, slices, behaviour checks
        return evaluate_holdout(model, holdout, plan.features, plan.categorical, plan.numeric, plan.target, plan.task,
                                config.evaluation)[0]

    report = stages.run("evaluate", holdout_eval)
    blob = stages.run("serialise_skops", lambda: dumps(model))
    return {
        "rows": rows, "stages": stages.seconds, "best_params": search_report.best_params,
        "primary_metric": report.primary_metric, "primary_value": report.primary_value, "model_bytes": len(blob),
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--config", default=None, help="training config YAML (default configs/training.yaml)")
    args = parser.parse_args(argv)
    result = train_plain(args.rows, args.seed, args.config)
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
