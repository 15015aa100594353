"""Sequential verdicts: boundaries, the test and its interval, checked by simulation with known forgetting."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from harness.evaluation import sequential
from harness.evaluation.paired_moments import location_sums
from harness.evaluation.simulation import (Scenario, extension_error, interval_coverage, operating_characteristics,
                                          run_fixed, sequence_coverage)

LOOKS = sequential.looks_schedule(50, 800)


def test_looks_grow_by_half_up_to_max_items():
    assert LOOKS == [50, 75, 113, 170, 255, 383, 575, 800]
    assert sequential.looks_schedule(50, 300) == [50, 75, 113, 170, 255, 300]
    assert sequential.looks_schedule(50, 50) == [50]
    with pytest.raises(ValueError):
        sequential.looks_schedule(50, 40)


def test_anytime_looks_come_every_fifth_more_and_at_least_a_batch_apart():
    """An anytime sequence may look more often than planned looks; looking every 20% stops nearer where
    the evidence first suffices (at least 16 new items a look, so each look fills a batch)."""
    looks = sequential.looks_schedule(50, 800, anytime=True)
    assert looks[:5] == [50, 66, 82, 99, 119] and looks[-1] == 800
    steps = np.diff(looks[:-1])
    assert (steps >= sequential.MIN_LOOK_STEP).all()
    assert all(b <= max(a * 1.2 + 1, a + sequential.MIN_LOOK_STEP) for a, b in pairwise(looks))
    assert sequential.looks_schedule(1000, 2000, anytime=True)[:3] == [1000, 1200, 1440]


@pytest.mark.parametrize("spending", ["pocock", "obrien_fleming", "bonferroni"])
def test_boundaries_spend_exactly_the_stated_error_over_all_looks(spending):
    """With zero drift, P(ever crossing +b) is alpha (Bonferroni: at most alpha), by Monte Carlo."""
    bounds = np.array(sequential.boundaries(tuple(LOOKS), 0.025, spending))
    rng = np.random.default_rng(1)
    steps = np.diff([0, *LOOKS])
    paths = np.cumsum(rng.standard_normal((200_000, len(LOOKS))) * np.sqrt(steps), axis=1) / np.sqrt(LOOKS)
    alive = np.ones(len(paths), bool)
    crossed = np.zeros(len(paths), bool)
    for k in range(len(LOOKS)):
        crossed |= alive & (paths[:, k] >= bounds[k])
        alive &= np.abs(paths[:, k]) < bounds[k]
    if spending == "bonferroni":
        assert crossed.mean() <= 0.025
    else:
        assert abs(crossed.mean() - 0.025) < 0.0015, crossed.mean()
    assert bounds[-1] > 1.96  # looking more than once costs something at the last look


def test_the_test_passes_exactly_when_the_upper_bound_is_below_the_threshold():
    rng = np.random.default_rng(0)
    base, fine = Scenario(0.6, 0.02, 0.08).draw(400, rng)
    moments = sequential.Moments.of(base, fine)
    low, high = moments.interval(1.96)
    assert low < moments.forgetting() < high
    for threshold in (high - 1e-4, high + 1e-4, low - 1e-4, low + 1e-4):
        status = sequential.decide(moments, threshold, 1.96)
        assert status == ("pass" if threshold > high else "fail" if threshold <= low else "undecided")


def test_ten_identical_answers_decide_nothing():
    """Zero discordance at n=10 has a plug-in variance of 0; the small-sample adjustment keeps it honest."""
    ones = np.ones(10)
    moments = sequential.Moments.of(ones, ones)
    assert sequential.decide(moments, 0.05, sequential.critical_value(1.96, 10)) == "undecided"


def test_rejudging_saved_looks_at_another_threshold():
    rng = np.random.default_rng(3)
    base, fine = Scenario(0.7, 0.0, 0.04).draw(800, rng)
    looks = []
    bounds = sequential.boundaries(tuple(LOOKS), 0.025, "pocock")
    for k, n in enumerate(LOOKS):
        m = sequential.Moments.of(base[:n], fine[:n])
        looks.append({"n": n, "critical": sequential.critical_value(bounds[k], n), "moments": m.as_dict()})
    assert sequential.rejudge(looks, 0.05) == "pass"
    assert sequential.rejudge(looks, 0.0001) in ("undecided", "fail")


@pytest.mark.parametrize("scenario,n", [
    (Scenario(0.6, 0.0, 0.10), 50), (Scenario(0.6, 0.05, 0.10), 200),
    (Scenario(0.3, 0.10, 0.20), 200), (Scenario(0.8, 0.0, 0.02), 400),
])
def test_interval_coverage_at_95_percent(scenario, n):
    assert interval_coverage(scenario, n=n, replications=400, seed=7) >= 0.93


@pytest.mark.parametrize("scenario", [Scenario(0.6, 0.06, 0.10), Scenario(0.8, 0.055, 0.05), Scenario(0.4, 0.06, 0.2)])
def test_false_pass_rate_just_above_the_threshold_stays_under_the_level(scenario):
    oc = operating_characteristics(scenario, looks=LOOKS, replications=600, seed=11)
    assert oc["pass"] <= 0.025, oc


def test_false_fail_rate_without_forgetting_stays_under_the_level():
    oc = operating_characteristics(Scenario(0.6, 0.0, 0.15), looks=LOOKS, replications=600, seed=5)
    assert oc["fail"] <= 0.025, oc


def test_clear_answers_stop_early():
    clear_pass = operating_characteristics(Scenario(0.8, 0.0, 0.04), looks=LOOKS, replications=300, seed=2)
    clear_fail = operating_characteristics(Scenario(0.6, 0.25, 0.16), looks=LOOKS, replications=300, seed=2)
    assert clear_pass["pass"] >= 0.99 and clear_pass["mean_items"] <= 400
    assert clear_fail["fail"] >= 0.99 and clear_fail["mean_items"] <= 200


@pytest.mark.parametrize("scenario,ratio", [(Scenario(0.8, 0.0, 0.04), 0.55), (Scenario(0.6, 0.15, 0.12), 0.55)])
def test_sequential_saves_items_against_a_fixed_design_with_the_same_power(scenario, ratio):
    """Mean items used vs the smallest fixed n that decides as often (bench/sequential_verdicts.py has more)."""
    oc = operating_characteristics(scenario, looks=LOOKS, replications=300, seed=4)
    fixed_n = _fixed_n_with_power(scenario, max(oc["pass"], oc["fail"]), replications=300, seed=4)
    assert oc["mean_items"] <= ratio * fixed_n, (scenario, oc, fixed_n)


def _fixed_n_with_power(scenario: Scenario, power: float, *, replications: int, seed: int) -> int:
    for n in range(50, 1601, 25):
        rng = np.random.default_rng(seed)
        decided = 0
        for _ in range(replications):
            base, fine = scenario.draw(n, rng)
            decided += run_fixed(base, fine, n, 0.05, 0.025).status != "undecided"
        if decided / replications >= power:
            return n
    return 1600


# --------------------------------------------------------------------- anytime-valid verdicts


def test_the_anytime_boundary_is_crossed_at_most_alpha_of_the_time_at_any_n():
    """Zero drift, every n from 1 to 3000 looked at: the one-sided mixture boundary holds (Monte Carlo)."""
    rng = np.random.default_rng(5)
    n = np.arange(1, 3001)
    bounds = np.array([sequential.anytime_critical(int(k), 0.025) for k in n])
    crossed = 0
    for _ in range(4):  # 4 x 5000 paths, in blocks to bound memory
        paths = np.cumsum(rng.standard_normal((5000, n.size)), axis=1) / np.sqrt(n)
        crossed += int((paths >= bounds).any(axis=1).sum())
    assert crossed / 20000 <= 0.025
    assert sequential.anytime_critical(300, 0.025) < sequential.anytime_critical(50, 0.025)  # tightest near 300


@pytest.mark.parametrize("scenario", [Scenario(0.6, 0.05, 0.10), Scenario(0.4, 0.05, 0.20), Scenario(0.9, 0.05, 0.05)])
def test_raising_the_budget_twice_after_undecided_keeps_the_false_pass_rate(scenario):
    """The user the planned design failed: undecided at 383 items, then 800, then 1600 (bench has the contrast:
    Pocock-type planned looks pass 3-9% of these)."""
    oc = extension_error(scenario, budgets=[383, 800, 1600], spending="anytime", replications=500, seed=8)
    assert oc["pass"] <= 0.025, oc


@pytest.mark.parametrize("scenario", [Scenario(0.6, 0.05, 0.10), Scenario(0.6, 0.04, 0.10), Scenario(0.9, 0.05, 0.05)])
def test_a_benchmark_scored_to_its_last_item_is_never_undecided_and_rarely_wrong(scenario):
    """population: benchmark. At the threshold exactly (0.05) a pass is wrong; just below it a fail is."""
    oc = extension_error(scenario, budgets=[383, 800, 1000], spending="anytime", population=1000,
                         replications=400, seed=9)
    assert oc["undecided"] == 0 and oc["wrong"] <= 0.025, oc


@pytest.mark.parametrize("population", [None, 1000])
def test_the_anytime_interval_holds_the_truth_at_every_look_at_once(population):
    looks = sequential.looks_schedule(50, 800, anytime=True) + ([1000] if population else [])
    for scenario in (Scenario(0.6, 0.05, 0.10), Scenario(0.3, 0.10, 0.20)):
        assert sequence_coverage(scenario, looks=looks, population=population, replications=300, seed=4) >= 0.95


def test_without_replacement_the_sequence_closes_on_the_benchmark_s_own_value():
    rng = np.random.default_rng(2)
    base, fine, truth = Scenario(0.6, 0.05, 0.10).population(1000, rng)
    widths = []
    for n in (200, 800, 990, 1000):
        low, high = sequential.Moments.of(base[:n], fine[:n], population=1000).interval(
            sequential.anytime_critical(n, 0.025))
        assert low <= truth <= high
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2] > widths[3] == 0  # exact once every item is scored
    unlimited = sequential.Moments.of(base[:800], fine[:800]).interval(sequential.anytime_critical(800, 0.025))
    assert widths[1] < unlimited[1] - unlimited[0]  # the finite population's correction
    assert location_sums(np.array([1.0, 0.0, 1.0]), 10**12) == pytest.approx(2.0)


# --------------------------------------------------------------------- base-assisted sampling


@pytest.mark.slow
def test_base_assisted_draws_save_candidate_items_on_a_large_benchmark_and_stay_right():
    """Benchmark of 5000 items, budget 383 then 800: draws by the base's margins against plain
    without-replacement sampling, on the same benchmarks (bench has more scenarios)."""
    from harness.evaluation.simulation import MarginScenario, assisted_error

    for scenario in (MarginScenario(0.8, 0.0, 0.04, 6.0), MarginScenario(0.6, 0.15, 0.12, 6.0)):
        out = assisted_error(scenario, population=5000, replications=30, seed=3)
        assert out["assisted"]["wrong"] == out["plain"]["wrong"] == 0
        assert out["assisted"]["mean_items"] < 0.8 * out["plain"]["mean_items"], out
    at_threshold = assisted_error(MarginScenario(0.6, 0.05, 0.10, 6.0), population=5000, budgets=(383, 800),
                                  replications=60, seed=4)
    assert at_threshold["assisted"]["pass"] <= 0.025, at_threshold


def test_draw_probabilities_follow_the_margins_and_bound_every_weight():
    from harness import ItemScore
    from harness.evaluation import assisted

    items = [ItemScore(str(i), 1.0, 0.25, margin) for i, margin in enumerate([0.01, 0.5, 3.0, None])]
    pi = assisted.draw_probabilities(items)
    assert pi.sum() == pytest.approx(1.0) and pi[0] > pi[1] > pi[2] and pi[3] == pi.max()
    assert (1 / (len(items) * pi)).max() <= 1 / assisted.EVEN  # importance weights stay bounded
    uniform = assisted.draw_probabilities([ItemScore("a", 1.0), ItemScore("b", 0.0)])
    assert list(uniform) == [0.5, 0.5]


def test_an_earlier_candidate_s_flips_steer_the_draws():
    import numpy as np

    from harness import ItemScore
    from harness.evaluation import assisted

    base = [ItemScore(str(i), 1.0, None, 1.0) for i in range(4)]  # equal margins
    earlier = assisted.earlier_changes(base, [ItemScore("0", 0.0), ItemScore("1", 1.0)])  # 0 flipped, 1 did not
    assert np.isnan(earlier[2:]).all() and list(earlier[:2]) == [-1.0, 0.0]
    pi = assisted.draw_probabilities(base, earlier)
    assert pi.sum() == pytest.approx(1.0) and pi[0] > pi[2] == pi[3] > pi[1]
    spread = pi - assisted.EVEN / 4
    assert spread[0] / spread[2] == pytest.approx(assisted.FLIPPED)
    assert spread[1] / spread[2] == pytest.approx(assisted.STEADY)
    assert assisted.earlier_changes(base, None) is None


@pytest.mark.slow
def test_earlier_probes_save_items_and_keep_the_error_bound():
    """Two interpolation probes (the later keeps about half the earlier's flips; 0.5% of items flip anew,
    as measured between real probes): judged with the earlier's flips, the later decides with fewer
    items, and wrong decisions stay within the stated 2.5% (bench/sequential_verdicts.py --replay
    measures it on real outcomes)."""
    from harness.evaluation.simulation import MarginScenario, earlier_error

    clear = earlier_error(MarginScenario(0.7, 0.04, 0.10, 6.0), keep=0.5, replications=40, seed=1)
    assert clear["assisted+earlier"]["mean_items"] < 0.6 * clear["assisted"]["mean_items"], clear
    assert clear["assisted+earlier"]["wrong"] == clear["assisted"]["wrong"] == 0
    near = earlier_error(MarginScenario(0.6, 0.10, 0.12, 2.0), keep=0.5, fresh=0.005, replications=80, seed=2)
    assert near["assisted+earlier"]["wrong"] <= 0.025 + 0.0125, near  # 2.5% plus one run in 80
