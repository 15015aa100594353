"""Judge a candidate against its base: forgetting per general benchmark, gain per domain one.

One driver for every command that decides (the loop's rounds, ``compare``,
``compare-models``): it scores base and candidate on the same items through two
:class:`~harness.evaluation.scoring.Scorer` objects, so no item is scored twice for the
same weights, and applies the configured verdict policy:

- ``sequential`` (default): look by look (:mod:`harness.evaluation.sequential`), scoring
  further only the benchmarks that are still undecided;
- ``point`` / ``strict``: one fixed sample of ``limit`` items, judged on the
  point estimate / the upper bound of the paired bootstrap CI.

Under every policy a general benchmark whose base score is not significantly
above chance is *uninformative for this model*: reported, excluded from the gate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from harness.components import Benchmark
from harness.config import Benchmarks, Forgetting
from harness.evaluation import sequential, stats
from harness.evaluation.scoring import Scorer, take_items
from harness.records import BenchmarkResult

# The defaults are the config schema's, declared there once: a verdict judged from
# command-line flags (compare-models) or in a test is judged as a run's would be.
_FORGETTING, _BENCHMARKS = Forgetting(), Benchmarks()


@dataclass(frozen=True)
class JudgeSettings:
    """How a verdict is reached; built from a run config or from command-line flags."""

    threshold: float = _FORGETTING.threshold  # percent
    policy: str = _FORGETTING.policy
    confidence: float = _FORGETTING.confidence
    spending: sequential.Spending = _FORGETTING.spending
    # benchmark: the benchmark's own N items are the population (sampled without replacement; all
    # N scored is the exact value). tasks_like_these: an infinite population of items like them.
    population: str = _FORGETTING.population
    relative_to: str = _FORGETTING.relative_to  # or "above_chance"
    first_look: int = _BENCHMARKS.first_look
    max_items: int = _BENCHMARKS.max_items
    limit: int | None = _BENCHMARKS.limit  # point/strict general benchmarks, and every domain benchmark
    # Per-benchmark limits: a fixed sample under point/strict, the cap of the looks under sequential.
    limits: dict[str, int | None] = field(default_factory=dict)
    seed: int = _BENCHMARKS.seed
    bootstrap_samples: int = _FORGETTING.bootstrap_samples
    base_full: bool = _BENCHMARKS.base_full  # base scored on every item; the candidate's drawn by the base's margins

    @classmethod
    def of(cls, forgetting: Forgetting, benchmarks: Benchmarks,
           limits: Mapping[str, int | None] | None = None) -> JudgeSettings:
        """The settings of a config's ``forgetting`` and ``benchmarks`` sections (``limits``: each
        benchmark's own, where it sets one)."""
        return cls(threshold=forgetting.threshold, policy=forgetting.policy, confidence=forgetting.confidence,
                   spending=forgetting.spending, population=forgetting.population,
                   relative_to=forgetting.relative_to, first_look=benchmarks.first_look,
                   max_items=benchmarks.max_items, limit=benchmarks.limit, limits=dict(limits or {}),
                   seed=benchmarks.seed, base_full=benchmarks.base_full,
                   bootstrap_samples=forgetting.bootstrap_samples)

    @property
    def alpha(self) -> float:
        """The one-sided error of each decision: the tail beyond one end of the CI."""
        return (1 - self.confidence) / 2

    @property
    def corrected(self) -> bool:
        return self.relative_to == "above_chance"

    def limit_of(self, benchmark: Benchmark) -> int | None:
        return self.limits.get(benchmark.name, self.limit)

    def most_items(self, benchmark: Benchmark, *, general: bool) -> int | None:
        """The most items a verdict may score on ``benchmark`` (None: all it has)."""
        if general and self.policy == "sequential":
            # A benchmark's own limit caps its looks; otherwise max_items does.
            return self.limits.get(benchmark.name) or self.max_items
        return self.limit_of(benchmark)

    def method(self) -> str:
        """One line for reports: how verdicts were decided, and at what level."""
        measure = "(base - ft) / (base - chance)" if self.corrected else "(base - ft) / base"
        if self.policy == "sequential" and self.spending == "anytime":
            return (f"sequential, anytime-valid: {sequential.SPENDING_NAMES[self.spending]} holds at every number "
                    f"of items, so each decision keeps its one-sided error {self.alpha:.3g} (the ends of a "
                    f"{self.confidence:.0%} interval) however many items are scored, now or later; "
                    f"{self.population_sentence()}; looks from {self.first_look} items, budget {self.max_items}; "
                    f"relative forgetting {measure}")
        if self.policy == "sequential":
            return (f"sequential (planned looks): {sequential.SPENDING_NAMES[self.spending]}, each decision at "
                    f"one-sided {self.alpha:.3g} over all looks (the ends of a {self.confidence:.0%} interval); "
                    f"looks at {', '.join(map(str, sequential.looks_schedule(self.first_look, self.max_items)))} "
                    f"items, valid for that maximum only; relative forgetting {measure}")
        rule = "point estimate" if self.policy == "point" else f"upper bound of the {self.confidence:.0%} bootstrap CI"
        return f"{self.policy}: the {rule} of relative forgetting {measure} must stay below the threshold"

    def population_sentence(self) -> str:
        if self.population == "benchmark":
            return ("the forgetting judged is the benchmark's own (its N items the population, sampled without "
                    "replacement: scoring all of them gives the exact value)")
        return "the forgetting judged is on tasks like these (the items a sample of an unlimited pool)"

    def as_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "threshold": self.threshold, "confidence": self.confidence,
                "spending": self.spending, "population": self.population, "relative_to": self.relative_to,
                "first_look": self.first_look, "max_items": self.max_items, "method": self.method()}


@dataclass
class Judgement:
    """Both models' results on the items used, and every comparison with its status."""

    base: dict[str, BenchmarkResult]
    candidate: dict[str, BenchmarkResult]
    forgetting: dict[str, stats.Comparison]
    gain: dict[str, stats.Comparison]
    verdict: stats.Verdict


def judge(
    base: Scorer,
    candidate: Scorer,
    general: Sequence[Benchmark],
    domain: Sequence[Benchmark],
    settings: JudgeSettings,
    *,
    say: Callable[[str], None] = lambda _message: None,
    earlier: Mapping[str, BenchmarkResult] | None = None,
) -> Judgement:
    """Score and compare; see the module docstring for the policies.

    ``earlier``: the previous interpolation probe's results, which base-assisted sampling
    uses to choose where to look (``assisted``).
    """
    results_base: dict[str, BenchmarkResult] = {}
    results_cand: dict[str, BenchmarkResult] = {}
    forgetting: dict[str, stats.Comparison] = {}
    for benchmark in general:
        if settings.policy == "sequential":
            prior = (earlier or {}).get(benchmark.name)
            comparison, b, c = _sequential(base, candidate, benchmark, settings, say, prior)
        else:
            comparison, b, c = _fixed(base, candidate, benchmark, settings)
        results_base[benchmark.name], results_cand[benchmark.name] = b, c
        forgetting[benchmark.name] = comparison
    gain: dict[str, stats.Comparison] = {}
    for benchmark in domain:
        ids = take_items(benchmark, settings.limit_of(benchmark), settings.seed)
        b, c = base.score(benchmark, ids), candidate.score(benchmark, ids)
        results_base[benchmark.name], results_cand[benchmark.name] = b, c
        comparison = _bootstrap(b, c, benchmark, settings)
        comparison.status = stats.gain_status(comparison, alpha=1 - settings.confidence)
        gain[benchmark.name] = comparison
    verdict = stats.forgetting_verdict(list(forgetting.values()), threshold=settings.threshold,
                                       policy=settings.policy)  # type: ignore[arg-type]
    return Judgement(results_base, results_cand, forgetting, gain, verdict)


def _bootstrap(b: BenchmarkResult, c: BenchmarkResult, benchmark: Benchmark, settings: JudgeSettings) -> stats.Comparison:
    return stats.paired_comparison(b, c, higher_is_better=benchmark.higher_is_better, confidence=settings.confidence,
                         samples=settings.bootstrap_samples, seed=settings.seed)


def _fixed(base: Scorer, candidate: Scorer, benchmark: Benchmark, settings: JudgeSettings):
    ids = take_items(benchmark, settings.limit_of(benchmark), settings.seed)
    b, c = base.score(benchmark, ids), candidate.score(benchmark, ids)
    comparison = _bootstrap(b, c, benchmark, settings)
    comparison.ci_method = f"paired bootstrap, {settings.confidence:.0%}"
    _apply_chance(comparison, b, settings)
    if settings.corrected and comparison.chance is not None:
        _correct_for_chance(comparison, b, c, benchmark, settings)
    if comparison.status != "uninformative":
        comparison.status = stats.status_of(comparison, settings.threshold, settings.policy)
    return comparison, b, c


def _sequential(base: Scorer, candidate: Scorer, benchmark: Benchmark, settings: JudgeSettings,
                say: Callable[[str], None], earlier: BenchmarkResult | None = None):
    available = len(take_items(benchmark, None, settings.seed))
    n_max = min(settings.most_items(benchmark, general=True) or available, available)
    anytime = settings.spending == "anytime"
    looks = [n for n in sequential.looks_schedule(settings.first_look, settings.max_items, anytime=anytime)
             if n < n_max] + [n_max]
    population = available if anytime and settings.population == "benchmark" else None
    if settings.base_full and population is not None:
        return _assisted(base, candidate, benchmark, settings, say, n_max, earlier)

    def critical_at(n: int) -> float:
        # Anytime: the boundary depends on n alone, so a later, larger budget keeps every decision valid.
        return sequential.anytime_critical(n, settings.alpha) if anytime else sequential.critical_value(
            bounds[looks.index(n)], n)

    bounds = () if anytime else sequential.boundaries(tuple(looks), settings.alpha, settings.spending)
    threshold = settings.threshold / 100
    history: list[dict[str, Any]] = []
    status = "undecided"
    for k, n in enumerate(looks):
        ids = take_items(benchmark, n, settings.seed)
        b = base.score(benchmark, ids)
        chance_reason = _chance_check(b, settings)
        if chance_reason and n < n_max:
            # Too few items to tell the base from guessing yet: grow the base's sample alone
            # (the candidate is not scored, no test is made, no error is spent at this look).
            say(f"  {benchmark.name:<24} look {k + 1}/{len(looks)}: n={n:<4} base not yet above chance; "
                f"more base items")
            continue
        c = candidate.score(benchmark, ids)
        # In the order drawn: without replacement, the test weighs each item by when it came.
        base_items, cand_items = {i.item_id: i for i in b.items}, {i.item_id: i for i in c.items}
        xb, xf = [base_items[i].score for i in ids], [cand_items[i].score for i in ids]
        chance = [base_items[i].chance or 0.0 for i in ids] if settings.corrected else None
        moments = sequential.Moments.of(xb, xf, chance, higher_is_better=benchmark.higher_is_better,
                                        population=population)
        critical = critical_at(n)
        if chance_reason:
            status = "uninformative"
        else:
            status = sequential.decide(moments, threshold, critical, corrected=settings.corrected)
        history.append(sequential.Look(n, critical, moments.z(threshold, settings.corrected), status,
                                       moments.as_dict()).as_dict())
        say(f"  {benchmark.name:<24} look {k + 1}/{len(looks)}: n={n:<4} {stats.status_label(status, 'sequential')}")
        if status != "undecided":
            break
    comparison = _bootstrap(b, c, benchmark, settings)
    _apply_chance(comparison, b, settings)
    comparison.status = status
    comparison.looks = history
    comparison.relative_to = settings.relative_to
    comparison.relative = 100 * moments.forgetting(settings.corrected)
    low, high = moments.interval(critical, settings.corrected)
    comparison.relative_ci = stats.Interval(100 * low, 100 * high)
    comparison.ci_method = (("exact: every item of the benchmark scored" if moments.complete else
                             f"anytime-valid confidence sequence (Fieller) at {n} items, critical value "
                             f"{critical:.2f}" + (f", without replacement from {population}" if population else ""))
                            if anytime else f"sequential (Fieller) at look {len(history)} of {len(looks)}, "
                                            f"critical value {critical:.2f}")
    if status == "undecided":
        final = critical_at(looks[-1])
        needed = sequential.items_to_decide(moments, threshold, final, corrected=settings.corrected,
                                            critical_at=(lambda m: sequential.anytime_critical(m, settings.alpha))
                                            if anytime else None)
        every = (f"scoring all {available} items decides it for certain" if population is not None else "")
        if needed is None:
            comparison.reason = ("the estimate sits on the threshold; " + (every or
                                 "no sample size is likely to decide it"))
        else:
            comparison.more_items = max(needed - n, 1)
            if population is not None:
                where = (f"{every}" if needed >= available else f"within the {available} items; {every}")
            else:
                where = "beyond the items available" if needed > available else "within the items available"
            raise_it = ("; raise benchmarks.max_items: with an anytime-valid verdict, more items later keep its "
                        "error" if anytime else "; raise benchmarks.max_items (a new plan: planned looks are "
                        "valid for their maximum only)")
            comparison.reason = (f"about {comparison.more_items} more items would likely decide it ({where})"
                                 + (raise_it if n == n_max else ""))
    elif status == "uninformative":
        comparison.reason = chance_reason
    return comparison, b, c


def _assisted(base: Scorer, candidate: Scorer, benchmark: Benchmark, settings: JudgeSettings,
              say: Callable[[str], None], budget: int, earlier: BenchmarkResult | None = None):
    """``benchmarks.base_full``: the base on every item, the candidate on items drawn by the base's
    margins (:mod:`harness.evaluation.assisted`), judged by the same anytime sequence."""
    import numpy as np

    from harness.evaluation import assisted

    all_ids = take_items(benchmark, None, settings.seed)
    size = len(all_ids)
    b_full = base.score(benchmark, all_ids)
    by_id = {i.item_id: i for i in b_full.items}
    base_items = [by_id[i] for i in all_ids]
    xb = np.array([i.score for i in base_items], dtype=np.float64)
    chance = np.array([i.chance or 0.0 for i in base_items]) if settings.corrected else None
    probabilities = assisted.draw_probabilities(
        base_items, assisted.earlier_changes(base_items, earlier.items if earlier is not None else None))
    order = assisted.draw_order(probabilities, 40 * size, settings.seed, benchmark.name)
    distinct = assisted.distinct_counts(order)
    threshold = settings.threshold / 100
    chance_reason = _chance_check(b_full, settings)
    history: list[dict[str, Any]] = []
    status, scored, xf = "undecided", [], xb.copy()
    looks = sequential.looks_schedule(settings.first_look, 40 * size, anytime=True)
    moments = critical = None
    for k in looks:
        n = int(distinct[k - 1])
        if n > budget or chance_reason:
            break
        scored = [all_ids[i] for i in dict.fromkeys(order[:k].tolist())]
        c = candidate.score(benchmark, scored)
        got = {i.item_id: i.score for i in c.items}
        for i in dict.fromkeys(order[:k].tolist()):
            xf[i] = got[all_ids[i]]
        if n >= size:  # every item scored: the benchmark's exact value
            moments = sequential.Moments.of(xb, xf, chance, higher_is_better=benchmark.higher_is_better,
                                            population=size)
            critical = 0.0
        else:
            moments = assisted.assisted_moments(order[:k], probabilities, xb, xf, chance,
                                                higher_is_better=benchmark.higher_is_better)
            critical = sequential.anytime_critical(k, settings.alpha)
        status = sequential.decide(moments, threshold, critical, corrected=settings.corrected)
        history.append(sequential.Look(n, critical, moments.z(threshold, settings.corrected), status,
                                       moments.as_dict()).as_dict())
        say(f"  {benchmark.name:<24} {k} draws, {n} items: {stats.status_label(status, 'sequential')}")
        if status != "undecided":
            break
    ids = scored or all_ids[: min(budget, size)]
    b = base.score(benchmark, ids)
    c = candidate.score(benchmark, ids) if scored else b
    comparison = _bootstrap(b, c, benchmark, settings)
    _apply_chance(comparison, b_full, settings)
    comparison.looks, comparison.relative_to = history, settings.relative_to
    if chance_reason or moments is None:
        comparison.status, comparison.reason = "uninformative", chance_reason or "no items drawn"
        return comparison, b, c
    comparison.status = status
    comparison.base = float(xb.mean())
    comparison.relative = 100 * moments.forgetting(settings.corrected)
    # The candidate's benchmark score the estimate implies (the relative change read back).
    floor = (comparison.chance or 0.0) if settings.corrected else 0.0
    sign = 1 if benchmark.higher_is_better else -1
    comparison.candidate = comparison.base - sign * (comparison.base - floor) * comparison.relative / 100
    low, high = moments.interval(critical, settings.corrected)
    comparison.relative_ci = stats.Interval(100 * low, 100 * high)
    guide = "the base's margins" + (" and the previous probe's flips" if earlier is not None else "")
    comparison.ci_method = ("exact: every item of the benchmark scored" if moments.complete else
                            f"base-assisted draws ({history[-1]['n']} items, importance-weighted by {guide}; "
                            f"base scored on all {size}), anytime-valid confidence sequence")
    if status == "undecided":
        comparison.reason = (f"undecided at {history[-1]['n'] if history else 0} items of {size}; a larger "
                             "benchmarks.max_items keeps this verdict's error (scoring all decides it for certain)")
    return comparison, b, c


def _apply_chance(comparison: stats.Comparison, base: BenchmarkResult, settings: JudgeSettings) -> None:
    chances = [i.chance for i in base.items if i.chance is not None]
    comparison.chance = sum(chances) / len(chances) if len(chances) == len(base.items) and chances else None
    comparison.relative_to = settings.relative_to
    reason = _chance_check(base, settings)
    if reason:
        comparison.status, comparison.reason = "uninformative", reason


def _chance_check(base: BenchmarkResult, settings: JudgeSettings) -> str:
    """Why the base result is uninformative (not significantly above chance), or "" when it is informative.

    One-sided exact binomial test of the base's correct count against the items'
    mean chance level, at ``1 - confidence``. Needs binary scores and known chance.
    """
    if not base.items:
        return ""
    scores = [i.score for i in base.items]
    if any(s not in (0.0, 1.0) for s in scores):
        return ""
    if not any(scores):
        # Whatever guessing would score (unknown for a generated answer), a base that gets no
        # item right has nothing to forget, and its relative forgetting has no denominator.
        return f"base gets none of the {len(scores)} items right: there is nothing it could forget"
    if any(i.chance is None for i in base.items):
        return ""
    chance = sum(i.chance for i in base.items) / len(base.items)  # type: ignore[misc]
    correct = int(sum(scores))
    p = sequential.binomial_above_chance(correct, len(scores), chance)
    if p < 1 - settings.confidence:
        return ""
    return (f"base {correct / len(scores):.3f} is not significantly above chance {chance:.3f} "
            f"(exact binomial p={p:.2g}, n={len(scores)})")


def _correct_for_chance(comparison: stats.Comparison, b: BenchmarkResult, c: BenchmarkResult,
                        benchmark: Benchmark, settings: JudgeSettings) -> None:
    """Point/strict with ``above_chance``: the chance-corrected estimate and its (Fieller) 95% CI."""
    chance = [i.chance or 0.0 for i in b.items]
    moments = sequential.Moments.of([i.score for i in b.items], [i.score for i in c.items], chance,
                                    higher_is_better=benchmark.higher_is_better)
    from statistics import NormalDist

    z = NormalDist().inv_cdf(1 - settings.alpha)
    comparison.relative = 100 * moments.forgetting(corrected=True)
    low, high = moments.interval(z, corrected=True)
    comparison.relative_ci = stats.Interval(100 * low, 100 * high)
    comparison.ci_method = f"Fieller, {settings.confidence:.0%}"
    if math.isnan(comparison.relative):
        comparison.status = "uninformative"
