"""Synthetic paired benchmark items with a known true forgetting, to check the verdicts by simulation.

Used by the tests and by ``bench/sequential_verdicts.py``: draw a base outcome per
item, then flip it with the probabilities that give the target fine-tuned accuracy
and discordance, and run the same decision code the loop runs
(:mod:`harness.evaluation.sequential`) on the growing sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from harness.evaluation import sequential


@dataclass(frozen=True)
class Scenario:
    """A general benchmark: base accuracy, true relative forgetting, share of items that change."""

    p_base: float
    forgetting: float  # true relative forgetting, a fraction (0.05 = 5%)
    discordance: float  # P(an item's outcome differs between base and fine-tuned)

    def flip_rates(self) -> tuple[float, float]:
        """P(right -> wrong | base right), P(wrong -> right | base wrong)."""
        net = self.p_base * self.forgetting  # p_b - p_f
        if self.discordance < abs(net):
            raise ValueError(f"discordance {self.discordance} is below the net change {net:.3f}")
        lose = (self.discordance + net) / 2 / self.p_base
        gain = (self.discordance - net) / 2 / (1 - self.p_base)
        return lose, gain

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        lose, gain = self.flip_rates()
        base = (rng.random(n) < self.p_base).astype(float)
        u = rng.random(n)
        fine = np.where(base == 1, (u >= lose).astype(float), (u < gain).astype(float))
        return base, fine


    def population(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
        """A benchmark of ``size`` items with exactly this scenario's counts (base right, lost, gained),
        in a random scoring order, and its own relative forgetting: the truth a run judging it is after.
        Built exactly, so a scenario at the threshold is a benchmark exactly at it (the worst case)."""
        right, lost, gained = self.counts(size)
        base = np.zeros(size)
        base[:right] = 1
        fine = base.copy()
        fine[:lost] = 0
        fine[right:right + gained] = 1
        order = rng.permutation(size)
        return base[order], fine[order], (lost - gained) / right

    def counts(self, size: int) -> tuple[int, int, int]:
        """(base right, lost, gained) of a benchmark of ``size`` items with exactly this scenario's rates."""
        right = round(self.p_base * size)
        net = round(self.forgetting * right)
        discordant = max(round(self.discordance * size), net)
        discordant += (discordant - net) % 2  # lost - gained = net, lost + gained = discordant
        return right, (discordant + net) // 2, (discordant - net) // 2


@dataclass
class Outcome:
    status: str
    n: int
    scored: np.ndarray | None = None  # base-assisted: the items the candidate was scored on


def run_sequential(base: np.ndarray, fine: np.ndarray, looks: list[int], threshold: float,
                   alpha: float, spending: sequential.Spending, population: int | None = None) -> Outcome:
    """The loop's decision rule on one synthetic benchmark (no chance correction).

    ``spending="anytime"``: the confidence sequence (``population``, the benchmark's size
    when its own items are the population); otherwise the planned-looks boundaries.
    """
    bounds = None if spending == "anytime" else sequential.boundaries(tuple(looks), alpha, spending)
    status = "undecided"
    for k, n in enumerate(looks):
        moments = sequential.Moments.of(base[:n], fine[:n], population=population)
        critical = (sequential.anytime_critical(n, alpha) if bounds is None
                    else sequential.critical_value(bounds[k], n))
        status = sequential.decide(moments, threshold, critical)
        if status != "undecided":
            return Outcome(status, n)
    return Outcome(status, looks[-1])


def run_extended(base: np.ndarray, fine: np.ndarray, budgets: list[int], first_look: int, threshold: float,
                 alpha: float, spending: sequential.Spending, population: int | None = None) -> Outcome:
    """A user who, after an undecided verdict at ``budgets[0]`` items, raises ``max_items`` to the next
    budget and judges again (the cached items re-judged under the new plan), and so on."""
    outcome = Outcome("undecided", 0)
    for budget in budgets:
        looks = sequential.looks_schedule(first_look, budget, anytime=spending == "anytime")
        outcome = run_sequential(base, fine, looks, threshold, alpha, spending, population)
        if outcome.status != "undecided":
            return outcome
    return outcome


def run_fixed(base: np.ndarray, fine: np.ndarray, n: int, threshold: float, alpha: float) -> Outcome:
    """A single look at ``n`` items at one-sided level ``alpha`` (the fixed-sample design)."""
    return run_sequential(base, fine, [n], threshold, alpha, "bonferroni")


def operating_characteristics(scenario: Scenario, *, looks: list[int], threshold: float = 0.05,
                              alpha: float = 0.025, spending: sequential.Spending = "pocock",
                              replications: int = 1000, seed: int = 0) -> dict[str, float]:
    """Share of runs that decide pass / fail / stay undecided, and the mean items used."""
    rng = np.random.default_rng(seed)
    counts = {"pass": 0, "fail": 0, "undecided": 0}
    items = 0
    for _ in range(replications):
        base, fine = scenario.draw(looks[-1], rng)
        outcome = run_sequential(base, fine, looks, threshold, alpha, spending)
        counts[outcome.status] += 1
        items += outcome.n
    return {**{k: v / replications for k, v in counts.items()}, "mean_items": items / replications}


def interval_coverage(scenario: Scenario, *, n: int, confidence: float = 0.95, replications: int = 1000,
                      seed: int = 0) -> float:
    """Share of runs whose Fieller interval at ``n`` items holds the true forgetting."""
    from statistics import NormalDist

    rng = np.random.default_rng(seed)
    critical = sequential.critical_value(NormalDist().inv_cdf(1 - (1 - confidence) / 2), n)
    hits = 0
    for _ in range(replications):
        base, fine = scenario.draw(n, rng)
        low, high = sequential.Moments.of(base, fine).interval(critical)
        hits += low <= scenario.forgetting <= high
    return hits / replications


def extension_error(scenario: Scenario, *, budgets: list[int], first_look: int = 50, threshold: float = 0.05,
                    alpha: float = 0.025, spending: sequential.Spending = "anytime", population: int | None = None,
                    replications: int = 1000, seed: int = 0) -> dict[str, float]:
    """Decisions of users who extend their budget after undecided results, and how many are wrong.

    With ``population`` the truth is each drawn benchmark's own forgetting (a pass is wrong when it
    is at or above the threshold, a fail when it is below); otherwise the scenario's.
    """
    rng = np.random.default_rng(seed)
    counts = {"pass": 0, "fail": 0, "undecided": 0, "wrong": 0}
    items = 0
    for _ in range(replications):
        if population is not None:
            base, fine, truth = scenario.population(population, rng)
        else:
            (base, fine), truth = scenario.draw(budgets[-1], rng), scenario.forgetting
        outcome = run_extended(base, fine, budgets, first_look, threshold, alpha, spending, population)
        counts[outcome.status] += 1
        counts["wrong"] += (outcome.status == "pass" and truth >= threshold) or (
            outcome.status == "fail" and truth < threshold)
        items += outcome.n
    return {**{k: v / replications for k, v in counts.items()}, "mean_items": items / replications}


def sequence_coverage(scenario: Scenario, *, looks: list[int], alpha: float = 0.025,
                      population: int | None = None, replications: int = 1000, seed: int = 0) -> float:
    """Share of runs whose anytime interval holds the truth at *every* look at once (time-uniform)."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(replications):
        if population is not None:
            base, fine, truth = scenario.population(population, rng)
        else:
            (base, fine), truth = scenario.draw(looks[-1], rng), scenario.forgetting
        hits += all(low - 1e-9 <= truth <= high + 1e-9 for low, high in (  # exact at n = N, up to rounding
            sequential.Moments.of(base[:n], fine[:n], population=population).interval(
                sequential.anytime_critical(n, alpha)) for n in looks))
    return hits / replications


# ------------------------------------------------------------------ base-assisted sampling


@dataclass(frozen=True)
class MarginScenario(Scenario):
    """A scenario whose base margins say where flips are: an item's chance of being one of the
    changed items falls as ``exp(-sharpness * |margin|)`` (0: margins say nothing)."""

    sharpness: float = 2.0

    def population_with_margins(self, size: int, rng: np.random.Generator):
        """(base, fine, |margin|, truth): a benchmark with exactly this scenario's counts."""
        right, lost, gained = self.counts(size)
        margins = rng.exponential(1.0, size)
        weight = np.exp(-self.sharpness * margins)
        base = np.zeros(size)
        base[:right] = 1
        fine = base.copy()
        fine[rng.choice(right, size=lost, replace=False, p=weight[:right] / weight[:right].sum())] = 0
        wrong = np.arange(right, size)
        fine[rng.choice(wrong, size=gained, replace=False, p=weight[right:] / weight[right:].sum())] = 1
        order = rng.permutation(size)
        return base[order], fine[order], margins[order], (lost - gained) / right


def run_assisted(base: np.ndarray, fine: np.ndarray, margins: np.ndarray, budget: int, threshold: float,
                 alpha: float, *, first_look: int = 50, seed: int = 0, earlier: np.ndarray | None = None) -> Outcome:
    """The loop's base-assisted rule on one benchmark: draws by the base's margins (and ``earlier``, an
    earlier candidate's change per item, NaN where unscored), looks at 50, 66, 82, 99, ... draws, until decided
    or ``budget`` distinct items are scored; ``n`` is the distinct items scored."""
    from harness.records import ItemScore
    from harness.evaluation import assisted

    size = len(base)
    probabilities = assisted.draw_probabilities([ItemScore(str(i), b, None, None if np.isnan(m) else float(m))
                                                 for i, (b, m) in enumerate(zip(base, margins))], earlier)
    order = assisted.draw_order(probabilities, 40 * size, seed, "simulated")
    distinct = assisted.distinct_counts(order)
    scored = np.zeros(0, dtype=int)
    for k in sequential.looks_schedule(first_look, 40 * size, anytime=True):
        n = int(distinct[k - 1])
        if n >= size:  # every item scored: the exact value
            moments = sequential.Moments.of(base, fine, population=size)
            return Outcome(sequential.decide(moments, threshold, 0.0), size, np.arange(size))
        if n > budget:
            return Outcome("undecided", budget, scored)
        scored = np.unique(order[:k])
        moments = assisted.assisted_moments(order[:k], probabilities, base, fine, None)
        status = sequential.decide(moments, threshold, sequential.anytime_critical(k, alpha))
        if status != "undecided":
            return Outcome(status, n, scored)
    return Outcome("undecided", budget, scored)


def earlier_from(outcome: Outcome, base: np.ndarray, fine: np.ndarray) -> np.ndarray:
    """What a later candidate's draws may use of this one: its change where it was scored, NaN elsewhere."""
    changes = np.full(len(base), np.nan)
    if outcome.scored is not None:
        changes[outcome.scored] = fine[outcome.scored] - base[outcome.scored]
    return changes


def assisted_error(scenario: MarginScenario, *, population: int = 1000, budgets: Sequence[int] = (383, 800),
                   threshold: float = 0.05, alpha: float = 0.025, replications: int = 500,
                   seed: int = 0) -> dict[str, dict[str, float]]:
    """Base-assisted against plain without-replacement sampling on the same benchmarks: decisions,
    wrong decisions (against each benchmark's own forgetting) and the candidate's distinct items, for a
    user who raises the budget after undecided results."""
    rng = np.random.default_rng(seed)
    out = {name: {"pass": 0.0, "fail": 0.0, "undecided": 0.0, "wrong": 0.0, "mean_items": 0.0}
           for name in ("assisted", "plain")}
    for r in range(replications):
        base, fine, margins, truth = scenario.population_with_margins(population, rng)
        for name in out:
            outcome = Outcome("undecided", 0)
            for budget in budgets:
                looks = sequential.looks_schedule(50, budget, anytime=True)
                outcome = (run_assisted(base, fine, margins, budget, threshold, alpha, seed=r) if name == "assisted"
                           else run_sequential(base, fine, looks, threshold, alpha, "anytime", population))
                if outcome.status != "undecided":
                    break
            cell = out[name]
            cell[outcome.status] += 1 / replications
            cell["wrong"] += ((outcome.status == "pass" and truth >= threshold)
                              or (outcome.status == "fail" and truth < threshold)) / replications
            cell["mean_items"] += outcome.n / replications
    return out


def probe_pair(scenario: MarginScenario, size: int, rng: np.random.Generator, keep: float = 0.5,
               fresh: float = 0.0):
    """(base, earlier, later, |margin|, later's truth): two candidates of one run. ``later`` keeps each of
    ``earlier``'s changed items with probability ``keep`` (as an interpolation search's probes do) and,
    as another round's training would, loses ``fresh`` x size items ``earlier`` left alone (drawn by
    the margins, as the scenario's own flips are)."""
    base, earlier, margins, _ = scenario.population_with_margins(size, rng)
    later = earlier.copy()
    changed = np.flatnonzero(earlier != base)
    undone = changed[rng.random(changed.size) >= keep]
    later[undone] = base[undone]
    steady = np.flatnonzero((earlier == base) & (base == 1))
    lost = min(round(fresh * size), steady.size)
    if lost:
        weight = np.exp(-scenario.sharpness * margins[steady])
        later[rng.choice(steady, size=lost, replace=False, p=weight / weight.sum())] = 0
    return base, earlier, later, margins, float((base.sum() - later.sum()) / base.sum())


def earlier_error(scenario: MarginScenario, *, keep: float = 0.5, fresh: float = 0.0, population: int = 1000,
                  budget: int = 800,
                  threshold: float = 0.05, alpha: float = 0.025, replications: int = 300,
                  seed: int = 0) -> dict[str, dict[str, float]]:
    """The later of two probes judged with the base's margins alone, and with the earlier probe's flips
    (on the items the earlier probe's own assisted run scored): decisions, wrong decisions against the
    later probe's own forgetting, and its distinct items."""
    rng = np.random.default_rng(seed)
    out = {name: {"pass": 0.0, "fail": 0.0, "undecided": 0.0, "wrong": 0.0, "mean_items": 0.0}
           for name in ("assisted", "assisted+earlier")}
    for r in range(replications):
        base, earlier, later, margins, truth = probe_pair(scenario, population, rng, keep, fresh)
        before = run_assisted(base, earlier, margins, budget, threshold, alpha, seed=replications + r)
        for name, cell in out.items():
            prior = earlier_from(before, base, earlier) if name == "assisted+earlier" else None
            outcome = run_assisted(base, later, margins, budget, threshold, alpha, seed=r, earlier=prior)
            cell[outcome.status] += 1 / replications
            cell["wrong"] += ((outcome.status == "pass" and truth >= threshold)
                              or (outcome.status == "fail" and truth < threshold)) / replications
            cell["mean_items"] += outcome.n / replications
    return out
