"""Synthetic paired benchmark items with a known true forgetting, to check the verdicts by simulation.

Used by the tests and by ``bench/sequential_verdicts.py``: draw a base outcome per
item, then flip it with the probabilities that give the target fine-tuned accuracy
and discordance, and run the same decision code the loop runs
(:mod:`harness.evaluation.sequential`) on the growing sample.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass
class Outcome:
    status: str
    n: int


def run_sequential(base: np.ndarray, fine: np.ndarray, looks: list[int], threshold: float,
                   alpha: float, spending: sequential.Spending) -> Outcome:
    """The loop's decision rule on one synthetic benchmark (no chance correction)."""
    bounds = sequential.boundaries(tuple(looks), alpha, spending)
    status = "undecided"
    for k, n in enumerate(looks):
        moments = sequential.Moments.of(base[:n], fine[:n])
        status = sequential.decide(moments, threshold, sequential.critical_value(bounds[k], n))
        if status != "undecided":
            return Outcome(status, n)
    return Outcome(status, looks[-1])


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
