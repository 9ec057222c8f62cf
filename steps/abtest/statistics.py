"""The statistics of an A/B test: how many labelled requests it needs, and what they say.

Plain library code (no ZenML, no MLflow): the `abtest` commands and steps call it with the labelled rows of each
variant (rows whose label came back through feedback).

Peeking guard: **fixed horizon**. `plan_test` fixes, before the test starts, the labelled rows each variant needs
(`required_per_variant`) for a two-sided test at `alpha` with `power` against `min_detectable_effect`.
`compare_variants` can be called as often as anyone likes (`abtest status`), but the verdict stays
"not enough data" until both variants reached that many rows; before that the interim difference and interval are
reported and labelled interim, never as a verdict. Once reached, the verdict is computed on the rows labelled until
the moment both variants had `required_per_variant` (with `labelled_at` times: every row of both variants labelled
by then, so the two variants are compared over the same period even when the split gives the champion nine rows for
each of the challenger's; without them: the first `required_per_variant` rows of each, rows being in label arrival
order). So it is frozen: later looks with more rows cannot flip it, which keeps the false-positive rate at `alpha`
however often `status` runs (an A/A simulation in tests/abtest checks it). A sequential method (mSPRT, alpha
spending) would allow stopping early; it is not implemented.

Tests per metric:
- accuracy: two-proportion z-test (Wald, unpooled variance: the interval and the p-value come from the same
  standard error, so "the interval excludes 0" and "p < alpha" always agree);
- every other metric (ROC AUC, RMSE, MAE, log loss, ...): bootstrap of the difference, each variant resampled
  independently (the variants served different requests: nothing to pair), seeded and reproducible; percentile
  interval and a two-sided bootstrap p-value.
Differences are challenger - champion oriented so that positive means the challenger is better (lower-is-better
metrics such as rmse, mae and log_loss are negated). "challenger better" / "challenger worse" mean the
(1 - alpha) interval excludes 0 on that side; otherwise "no difference" (at the planned power, no difference of
`min_detectable_effect` or more was found).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional, Tuple

import numpy as np
from scipy import stats

from steps.abtest.resampling import METRICS, bootstrap
from steps.evaluation.metrics import LOWER_IS_BETTER

if TYPE_CHECKING:
    from core.config import ABTestSection

TASKS = ("binary", "multiclass", "regression")
# The metric an A/B test judges when the config names none. Not the gate's PRIMARY_METRIC (roc_auc, f1_macro, r2):
# live labels arrive one request at a time, and accuracy / rmse are per-request averages with well-known sample-size
# formulas (accuracy has an exact proportion test), which makes the plan a user reads before starting trustworthy.
DEFAULT_METRIC = {"binary": "accuracy", "multiclass": "accuracy", "regression": "rmse"}
# Metrics with a sample-size formula, and the tasks they apply to (core.config.ABTEST_METRICS lists the same names).
PLANNABLE = {"accuracy": ("binary", "multiclass"), "roc_auc": ("binary",), "rmse": ("regression",),
             "mae": ("regression",)}
VERDICTS = ("not enough data", "challenger better", "no difference", "challenger worse")


def default_metric(task: str, configured: Optional[str] = None) -> str:
    """The configured metric, else the task's default (accuracy for classification, rmse for regression)."""
    _check_task(task)
    return configured or DEFAULT_METRIC[task]


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task: expected one of {', '.join(TASKS)}, got {task!r}")


# ----------------------------------------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class TestPlan:
    """What the test needs before it can say anything: labelled requests per variant, and the test it will use."""

    __test__ = False  # not a pytest test class despite the name

    task: str
    metric: str
    baseline: float
    min_detectable_effect: float
    alpha: float
    power: float
    required_per_variant: int
    method: str

    def describe(self) -> str:
        return (f"{self.required_per_variant} labelled requests per variant to detect a {self.metric} difference of "
                f"{self.min_detectable_effect:g} from {self.baseline:.4g} (two-sided alpha {self.alpha:g}, power "
                f"{self.power:.0%}; {self.method})")


def _z_sum(alpha: float, power: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))


def _hanley_mcneil_variance(auc: float, n: float, positive_rate: float) -> float:
    """Variance of an ROC AUC estimate from n rows with that share of positives (Hanley & McNeil 1982)."""
    positives, negatives = positive_rate * n, (1 - positive_rate) * n
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    return (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc)
            + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives)


def _smallest_n(enough: Callable[[int], bool], start: int) -> int:
    """The smallest n >= start with enough(n) (enough is monotone in n)."""
    high = max(start, 2)
    while not enough(high):
        high *= 2
        if high > 10**9:
            raise ValueError("no sample size up to 1e9 rows reaches the requested power")
    low = start
    while low < high:
        mid = (low + high) // 2
        if enough(mid):
            high = mid
        else:
            low = mid + 1
    return high


def plan_test(task: str, metric: str, baseline: float, min_detectable_effect: float, alpha: float = 0.05,
              power: float = 0.8, positive_rate: Optional[float] = None) -> TestPlan:
    """Labelled requests needed per variant for a two-sided test of `metric` around the champion's `baseline`.

    The alternative is the challenger better by `min_detectable_effect` (absolute, metric units): baseline + effect
    for higher-is-better metrics, baseline - effect for rmse/mae. Formulas, with z = z(1 - alpha/2) + z(power):
    - accuracy: n = z^2 (p1 q1 + p2 q2) / effect^2 (two proportions, unpooled: the variance the test uses);
    - roc_auc: smallest n with z * sqrt(V(A1) + V(A2)) <= effect, V the Hanley-McNeil variance for n rows of which
      `positive_rate` (default 0.5) are positive;
    - rmse: residuals assumed normal with mean 0 and sd = rmse, so by the delta method the RMSE of n rows has
      variance sd^2 / (2n): n = z^2 (s1^2 + s2^2) / (2 effect^2);
    - mae: same normal assumption: |residual| has variance mae^2 (pi/2 - 1): n = z^2 (pi/2 - 1)(m1^2 + m2^2)/effect^2.
    The rmse/mae formulas are approximations (heavy-tailed residuals need more rows); the bootstrap test itself
    makes no such assumption.
    """
    _check_task(task)
    if metric not in PLANNABLE:
        raise ValueError(f"metric: no sample-size formula for {metric!r}; expected one of {', '.join(PLANNABLE)}")
    if task not in PLANNABLE[metric]:
        raise ValueError(f"metric: {metric!r} does not apply to a {task} task (it applies to "
                         f"{', '.join(PLANNABLE[metric])}); the default for {task} is {DEFAULT_METRIC[task]!r}")
    for name, value in (("alpha", alpha), ("power", power)):
        if not 0 < value < 1:
            raise ValueError(f"{name}: expected a probability strictly between 0 and 1, got {value!r}")
    if not min_detectable_effect > 0:
        raise ValueError(f"min_detectable_effect: expected a positive absolute difference, got "
                         f"{min_detectable_effect!r}")
    z = _z_sum(alpha, power)
    effect = float(min_detectable_effect)
    if metric in ("accuracy", "roc_auc"):
        if not 0 < baseline < 1:
            raise ValueError(f"baseline: {metric} of the champion must be strictly between 0 and 1, got {baseline!r}")
        if baseline + effect > 1:
            raise ValueError(f"min_detectable_effect: {metric} {baseline:g} + {effect:g} exceeds 1; choose a smaller "
                             "effect")
    elif not baseline > 0:
        raise ValueError(f"baseline: {metric} of the champion must be positive, got {baseline!r}")
    elif baseline - effect <= 0:
        raise ValueError(f"min_detectable_effect: {metric} {baseline:g} - {effect:g} is not positive; choose a "
                         "smaller effect")

    if metric == "accuracy":
        p1, p2 = baseline, baseline + effect
        required = math.ceil(z * z * (p1 * (1 - p1) + p2 * (1 - p2)) / effect**2)
        method = "two-proportion z-test"
    elif metric == "roc_auc":
        rate = 0.5 if positive_rate is None else positive_rate
        if not 0 < rate < 1:
            raise ValueError(f"positive_rate: expected a share strictly between 0 and 1, got {positive_rate!r}")
        a1, a2 = baseline, baseline + effect
        first = math.ceil(2 / min(rate, 1 - rate))  # at least two positives and two negatives

        def enough(n: int) -> bool:
            return z * math.sqrt(_hanley_mcneil_variance(a1, n, rate) + _hanley_mcneil_variance(a2, n, rate)) <= effect

        required = _smallest_n(enough, first)
        method = "bootstrap (ROC AUC)"
    elif metric == "rmse":
        s1, s2 = baseline, baseline - effect
        required = math.ceil(z * z * (s1 * s1 + s2 * s2) / (2 * effect**2))
        method = "bootstrap (RMSE)"
    else:
        m1, m2 = baseline, baseline - effect
        required = math.ceil(z * z * (math.pi / 2 - 1) * (m1 * m1 + m2 * m2) / effect**2)
        method = "bootstrap (MAE)"
    return TestPlan(task=task, metric=metric, baseline=float(baseline), min_detectable_effect=effect,
                    alpha=float(alpha), power=float(power), required_per_variant=max(int(required), 2), method=method)


def plan_from_config(abtest: "ABTestSection", task: str, baseline: float,
                     positive_rate: Optional[float] = None) -> TestPlan:
    """The plan of `configs/deployment.yaml`'s `abtest:` section for a model of this task whose champion scored
    `baseline` on the test metric (its holdout value: the metric the plan is about, see `default_metric`)."""
    return plan_test(task, default_metric(task, abtest.metric), baseline, abtest.min_detectable_effect,
                     abtest.alpha, abtest.power, positive_rate=positive_rate)


# ---------------------------------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class VariantOutcomes:
    """The labelled rows one variant served, in the order their labels arrived.

    `proba`: positive-class probability (binary). `labelled_at`: when each row's label arrived (epoch seconds, or
    any number both variants' rows are ordered by); optional, but it lets the verdict compare the variants over the
    same period (module docstring).
    """

    name: str
    y_true: np.ndarray
    y_pred: np.ndarray
    proba: Optional[np.ndarray] = None
    labelled_at: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.y_true)

    def rows(self, which) -> "VariantOutcomes":
        """The rows selected by a slice or a boolean mask."""
        return VariantOutcomes(self.name, self.y_true[which], self.y_pred[which],
                               None if self.proba is None else self.proba[which],
                               None if self.labelled_at is None else self.labelled_at[which])

    def head(self, n: int) -> "VariantOutcomes":
        return self.rows(slice(0, n))


@dataclass(frozen=True)
class Verdict:
    """What the labelled rows say about challenger vs champion; difference > 0 means the challenger is better."""

    metric: str
    method: str
    champion_value: Optional[float]
    challenger_value: Optional[float]
    difference: Optional[float]
    ci_low: Optional[float]
    ci_high: Optional[float]
    p_value: Optional[float]
    confidence: float
    n_champion: int
    n_challenger: int
    required_per_variant: int
    verdict: str
    note: str


def _as_outcomes(variant: VariantOutcomes, role: str, needs_proba: bool) -> VariantOutcomes:
    y_true, y_pred = np.asarray(variant.y_true), np.asarray(variant.y_pred)
    if y_true.ndim != 1 or y_pred.shape != y_true.shape:
        raise ValueError(f"{role} ({variant.name}): y_true and y_pred must be 1-d of one length, got shapes "
                         f"{y_true.shape} and {y_pred.shape}")
    proba = None if variant.proba is None else np.asarray(variant.proba, dtype=float)
    if needs_proba and proba is None:
        raise ValueError(f"{role} ({variant.name}).proba: the metric needs the positive-class probability, got None")
    if proba is not None and proba.shape != y_true.shape:
        raise ValueError(f"{role} ({variant.name}).proba: expected shape {y_true.shape} (positive-class "
                         f"probability per row), got {proba.shape}")
    labelled_at = None if variant.labelled_at is None else np.asarray(variant.labelled_at, dtype=float)
    if labelled_at is not None and labelled_at.shape != y_true.shape:
        raise ValueError(f"{role} ({variant.name}).labelled_at: expected shape {y_true.shape} (one time per row), "
                         f"got {labelled_at.shape}")
    return VariantOutcomes(variant.name, y_true, y_pred, proba, labelled_at)


def _at_horizon(champion: VariantOutcomes, challenger: VariantOutcomes,
                required: int) -> Tuple[VariantOutcomes, VariantOutcomes]:
    """The rows the verdict uses once both variants have `required` labelled rows (module docstring)."""
    if champion.labelled_at is None or challenger.labelled_at is None:
        return champion.head(required), challenger.head(required)
    horizon = max(np.sort(champion.labelled_at)[required - 1], np.sort(challenger.labelled_at)[required - 1])
    return champion.rows(champion.labelled_at <= horizon), challenger.rows(challenger.labelled_at <= horizon)


def _z_test(champion_value: float, challenger_value: float, n_champion: int, n_challenger: int,
            alpha: float) -> Tuple[float, float, float]:
    """(ci_low, ci_high, p_value) of the difference of two proportions (Wald, unpooled)."""
    difference = challenger_value - champion_value
    se = math.sqrt(champion_value * (1 - champion_value) / n_champion
                   + challenger_value * (1 - challenger_value) / n_challenger)
    if se == 0:
        return difference, difference, 1.0 if difference == 0 else 0.0
    half = float(stats.norm.ppf(1 - alpha / 2)) * se
    return difference - half, difference + half, float(2 * stats.norm.sf(abs(difference) / se))


def _positive_label(champion: VariantOutcomes, challenger: VariantOutcomes):
    """The class `proba` is about when none is given: 1 for 0/1 labels, else the greater label seen (true or
    predicted), as sklearn's classes_[1]."""
    labels = np.unique(np.concatenate([champion.y_true, challenger.y_true, champion.y_pred, challenger.y_pred]))
    if len(labels) and np.isin(labels, [0, 1]).all():
        return 1  # also when the rows so far hold one class only
    return labels[-1] if len(labels) else None


def compare_variants(plan: TestPlan, champion: VariantOutcomes, challenger: VariantOutcomes, seed: int = 0,
                     positive_label=None) -> Verdict:
    """The verdict of the test so far (fixed horizon: see the module docstring).

    `positive_label`: the class `proba` is the probability of (binary metrics on probabilities: roc_auc, log_loss);
    default 1 for 0/1 labels, else the greater label seen, as a classifier's `classes_[1]`.
    """
    if plan.metric not in METRICS:
        raise ValueError(f"plan.metric: no test for {plan.metric!r}; expected one of {', '.join(METRICS)}")
    metric = METRICS[plan.metric]
    champion = _as_outcomes(champion, "champion", metric.needs_proba)
    challenger = _as_outcomes(challenger, "challenger", metric.needs_proba)
    n_champion, n_challenger, required = len(champion), len(challenger), plan.required_per_variant
    reached = min(n_champion, n_challenger) >= required
    if (champion.labelled_at is None) != (challenger.labelled_at is None):
        raise ValueError("labelled_at: give it for both variants or for neither (champion "
                         f"{'has' if champion.labelled_at is not None else 'lacks'} it, challenger "
                         f"{'has' if challenger.labelled_at is not None else 'lacks'} it)")
    if reached:  # frozen: the rows labelled by the horizon decide, whatever arrived later
        champion, challenger = _at_horizon(champion, challenger, required)
    positive = _positive_label(champion, challenger) if positive_label is None else positive_label
    sign = -1.0 if plan.metric in LOWER_IS_BETTER else 1.0
    old, new = metric.value(champion, positive), metric.value(challenger, positive)
    difference = ci_low = ci_high = p_value = None
    if old is not None and new is not None:
        difference = sign * (new - old)
        if plan.metric == "accuracy":
            ci_low, ci_high, p_value = _z_test(old, new, len(champion), len(challenger), plan.alpha)
        elif min(len(champion), len(challenger)) >= 2:
            draws = bootstrap(metric, champion, challenger, positive, sign, seed)
            if len(draws):
                ci_low, ci_high = (float(v) for v in np.quantile(draws, [plan.alpha / 2, 1 - plan.alpha / 2]))
                tail = min((draws <= 0).sum(), (draws >= 0).sum())
                p_value = float(min(1.0, 2 * (tail + 1) / (len(draws) + 1)))
    if not reached or ci_low is None:
        verdict = "not enough data"
    elif ci_low > 0:
        verdict = "challenger better"
    elif ci_high < 0:
        verdict = "challenger worse"
    else:
        verdict = "no difference"
    return Verdict(
        metric=plan.metric, method=plan.method, champion_value=old, challenger_value=new, difference=difference,
        ci_low=ci_low, ci_high=ci_high, p_value=p_value, confidence=1 - plan.alpha, n_champion=n_champion,
        n_challenger=n_challenger, required_per_variant=required, verdict=verdict,
        note=_note(plan, verdict, (n_champion, n_challenger), (len(champion), len(challenger)), old, new, difference,
                   ci_low, ci_high))


def _note(plan: TestPlan, verdict: str, labelled: Tuple[int, int], used: Tuple[int, int], old, new, difference,
          ci_low, ci_high) -> str:
    required, confidence = plan.required_per_variant, f"{1 - plan.alpha:.0%}"
    oriented = " (lower is better; positive = challenger better)" if plan.metric in LOWER_IS_BETTER else ""
    interval = (f"{difference:+.4f} [{ci_low:+.4f}, {ci_high:+.4f}] at {confidence}"
                if ci_low is not None else (f"{difference:+.4f} (no interval yet)" if difference is not None
                                            else "not measurable yet"))
    if verdict == "not enough data":
        return (f"fixed horizon: {min(labelled)}/{required} labelled per variant (champion {labelled[0]}, "
                f"challenger {labelled[1]}); interim {plan.metric} difference {interval}{oriented} is not a verdict")
    rows = (f"the first {required} labelled rows per variant" if used == (required, required) else
            f"the {used[0]} champion and {used[1]} challenger rows labelled until both had {required}")
    later = (f"; {labelled[0] - used[0]} champion and {labelled[1] - used[1]} challenger rows after the horizon "
             "are not used") if labelled != used else ""
    return (f"fixed horizon reached: on {rows}, challenger {plan.metric} {new:.4f} vs champion {old:.4f}, "
            f"difference {interval}{oriented}{later}")
