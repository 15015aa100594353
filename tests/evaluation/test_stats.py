"""Paired forgetting statistics: CIs, exact McNemar, point vs strict verdicts."""

import math

import numpy as np
import pytest

from harness import BenchmarkResult, ItemScore, UsageError
from harness.evaluation.stats import Comparison, Interval, exact_mcnemar, paired_comparison, forgetting_verdict, gain_verdict, mean_interval


def result(scores, name="bench", metric="acc", prefix="q"):
    return BenchmarkResult(name, metric, [ItemScore(f"{prefix}{i}", float(s)) for i, s in enumerate(scores)])


def comparison(name, relative, high):
    return Comparison(name, "acc", 100, 0.6, 0.6, 0.0, Interval(-0.01, 0.01), relative,
                      Interval(relative - 1, high), 1.0, 0, 0)


@pytest.mark.parametrize(
    "worse, better, expected",
    [
        (0, 0, 1.0),
        (0, 5, 2 / 32),  # all 5 discordant pairs one way
        (1, 9, 2 * 11 / 1024),  # (C(10,0) + C(10,1)) / 2^10, two-sided
        (8, 2, 2 * 56 / 1024),  # symmetric in its arguments
        (3, 3, 1.0),
        (0, 1, 1.0),
    ],
)
def test_exact_mcnemar_known_values(worse, better, expected):
    assert exact_mcnemar(worse, better) == pytest.approx(expected, rel=1e-12)


def test_exact_mcnemar_large_counts_do_not_underflow():
    p = exact_mcnemar(400, 600)
    assert 0 < p < 1e-9
    assert exact_mcnemar(500, 500) == pytest.approx(1.0)


def test_identical_models_have_zero_forgetting_and_cis_containing_zero():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 2, 300)
    c = paired_comparison(result(scores), result(scores))
    assert c.n == 300 and c.difference == 0 and c.relative == 0
    assert c.difference_ci.contains(0) and c.relative_ci.contains(0)
    assert c.p_value == 1.0 and c.worse == c.better == 0


def test_a_real_drop_is_detected_with_the_right_sign():
    rng = np.random.default_rng(1)
    base = rng.random(400) < 0.6
    damaged = base & (rng.random(400) < 0.7)  # loses ~30% of correct answers, gains none
    c = paired_comparison(result(base), result(damaged))
    assert c.relative == pytest.approx((base.mean() - damaged.mean()) / base.mean() * 100)
    assert c.difference_ci.low > 0 and c.relative_ci.low > 10
    assert c.better == 0 and c.worse == int(base.sum() - damaged.sum())
    assert c.p_value < 1e-6


def test_comparison_is_paired_and_deterministic():
    rng = np.random.default_rng(2)
    base = rng.integers(0, 2, 200)
    cand = np.where(rng.random(200) < 0.1, 1 - base, base)
    first = paired_comparison(result(base), result(cand), seed=7)
    again = paired_comparison(result(base), result(cand), seed=7)
    assert first == again
    # Pairing: the CI for a paired difference is much narrower than the unpaired spread.
    unpaired = mean_interval(base, seed=7)
    assert first.difference_ci.high - first.difference_ci.low < (unpaired.high - unpaired.low)


def test_items_are_aligned_by_id_not_position():
    base = BenchmarkResult("b", "acc", [ItemScore("a", 1.0), ItemScore("b", 0.0)])
    cand = BenchmarkResult("b", "acc", [ItemScore("b", 0.0), ItemScore("a", 1.0)])
    assert paired_comparison(base, cand).difference == 0


def test_different_item_samples_are_refused():
    with pytest.raises(UsageError, match="different items"):
        paired_comparison(result([1, 0, 1]), result([1, 0, 1], prefix="other"))


def test_lower_is_better_metric_counts_a_higher_loss_as_worse():
    base = result([2.0, 2.1, 1.9, 2.0], metric="loss")
    cand = result([2.4, 2.5, 2.2, 2.6], metric="loss")
    c = paired_comparison(base, cand, higher_is_better=False)
    assert c.difference > 0 and c.relative > 0 and c.worse == 4
    assert not c.p_is_mcnemar  # graded scores: sign test


def test_point_and_strict_verdicts_differ_on_wide_intervals():
    comparisons = [comparison("arc", 2.0, high=9.0), comparison("sciq", -1.0, high=3.0)]
    point = forgetting_verdict(comparisons, threshold=5, policy="point")
    strict = forgetting_verdict(comparisons, threshold=5, policy="strict")
    assert point.passed and point.failing == []
    assert not strict.passed and strict.failing == ["arc"]
    assert "upper 95% bound" in strict.reasons[0]


def test_point_verdict_fails_on_any_benchmark_over_threshold():
    verdict = forgetting_verdict([comparison("a", 1.0, 2.0), comparison("b", 5.0, 6.0)], threshold=5)
    assert not verdict.passed and verdict.failing == ["b"]


def test_nan_degradation_fails_rather_than_passing_silently():
    verdict = forgetting_verdict([comparison("zero-base", math.nan, math.nan)], threshold=5)
    assert not verdict.passed


def test_gain_verdict():
    assert gain_verdict([comparison("d", -20.0, high=-5.0)], policy="strict").passed
    assert not gain_verdict([comparison("d", -20.0, high=3.0)], policy="strict").passed
    assert gain_verdict([comparison("d", -20.0, high=3.0)], policy="point").passed


def test_bad_policy_is_a_usage_error():
    with pytest.raises(UsageError):
        forgetting_verdict([], threshold=5, policy="lenient")
