"""Paired statistics for "did the fine-tuned model forget?": CIs, McNemar, verdicts.

Base and candidate are scored on exactly the same items, so every comparison is
*paired*: the bootstrap resamples items (keeping each item's base and candidate
score together), which is far tighter than comparing two independent means.
Pure numpy; every random draw comes from a seeded generator, so the same inputs
always give the same intervals.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Sequence

import numpy as np

from harness.errors import UsageError
# The records live at the bottom of the house; they are re-exported here for callers of stats.
from harness.records import BenchmarkResult, Comparison, Interval, Verdict

Policy = Literal["sequential", "point", "strict"]
POLICIES: tuple[str, ...] = ("sequential", "point", "strict")

# Resample in chunks so a 10,000-item benchmark never needs a (B x n) index matrix at once.
_CHUNK = 250


def format_pct(value: float | None) -> str:
    """A signed percentage to one decimal, 'n/a' for missing values, never '-0.0%'."""
    if value is None or value != value:
        return "n/a"
    return f"{round(value, 1) + 0.0:+.1f}%"  # adding 0.0 turns -0.0 into 0.0


def paired_arrays(base: BenchmarkResult, candidate: BenchmarkResult) -> tuple[np.ndarray, np.ndarray]:
    """Both results' scores aligned by item id; refuses results over different items."""
    base_scores = {i.item_id: i.score for i in base.items}
    cand_scores = {i.item_id: i.score for i in candidate.items}
    if len(base_scores) != len(base.items) or len(cand_scores) != len(candidate.items):
        raise UsageError(f"{base.benchmark}: duplicate item ids in a result; cannot pair items")
    if base_scores.keys() != cand_scores.keys():
        only_base = len(base_scores.keys() - cand_scores.keys())
        only_cand = len(cand_scores.keys() - base_scores.keys())
        raise UsageError(
            f"{base.benchmark}: base and candidate were scored on different items "
            f"({only_base} only in base, {only_cand} only in candidate); a paired comparison needs the same sample"
        )
    ids = sorted(base_scores)
    return (
        np.array([base_scores[i] for i in ids], dtype=np.float64),
        np.array([cand_scores[i] for i in ids], dtype=np.float64),
    )


def _bootstrap_means(
    base: np.ndarray, candidate: np.ndarray, samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Means of ``samples`` paired resamples (same item indices for both models)."""
    rng = np.random.default_rng(seed)
    n = len(base)
    base_means = np.empty(samples)
    cand_means = np.empty(samples)
    for start in range(0, samples, _CHUNK):
        stop = min(start + _CHUNK, samples)
        idx = rng.integers(0, n, size=(stop - start, n))
        base_means[start:stop] = base[idx].mean(axis=1)
        cand_means[start:stop] = candidate[idx].mean(axis=1)
    return base_means, cand_means


def _percentile_interval(values: np.ndarray, confidence: float) -> Interval:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Interval(float("nan"), float("nan"))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return Interval(float(low), float(high))


def mean_interval(scores: Sequence[float], *, confidence: float = 0.95, samples: int = 2000, seed: int = 0) -> Interval:
    """Bootstrap CI of one model's mean score over its items."""
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        return Interval(float("nan"), float("nan"))
    means, _ = _bootstrap_means(values, values, samples, seed)
    return _percentile_interval(means, confidence)


def exact_mcnemar(worse: int, better: int) -> float:
    """Two-sided exact McNemar p-value: a binomial(worse + better, 1/2) test on discordant pairs."""
    n = worse + better
    if n == 0:
        return 1.0
    k = min(worse, better)
    # Sum in log space: C(n, i) / 2^n underflows for a few thousand discordant items.
    log_terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)]
    top = max(log_terms)
    tail = math.exp(top) * sum(math.exp(t - top) for t in log_terms)
    return min(1.0, 2 * tail)


def paired_t_p(base: np.ndarray, candidate: np.ndarray) -> float:
    """Two-sided paired t-test p-value of ``candidate - base`` (1.0 when nothing changed)."""
    differences = candidate - base
    if differences.size < 2 or not differences.any():
        return 1.0
    spread = differences.std(ddof=1)
    if spread == 0:
        return 0.0
    from scipy.stats import t as student_t

    t = differences.mean() / (spread / math.sqrt(differences.size))
    return float(min(1.0, 2 * student_t.sf(abs(t), df=differences.size - 1)))


def _relative(base_mean: np.ndarray | float, cand_mean: np.ndarray | float) -> np.ndarray | float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.asarray(base_mean) - np.asarray(cand_mean)) / np.abs(np.asarray(base_mean)) * 100


def paired_comparison(
    base: BenchmarkResult,
    candidate: BenchmarkResult,
    *,
    higher_is_better: bool = True,
    confidence: float = 0.95,
    samples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Paired comparison of two results on the same items (see :class:`Comparison`)."""
    a, b = paired_arrays(base, candidate)
    if a.size == 0:
        raise UsageError(f"{base.benchmark}: no items to compare")
    sign = 1.0 if higher_is_better else -1.0
    # Flip lower-is-better metrics so "base - candidate > 0" always means worse.
    a_signed, b_signed = sign * a, sign * b
    base_means, cand_means = _bootstrap_means(a_signed, b_signed, samples, seed)
    base_mean, cand_mean = float(a.mean()), float(b.mean())
    difference = sign * (base_mean - cand_mean)
    relative = float(_relative(sign * base_mean, sign * cand_mean))
    binary = bool(np.isin(a, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all())
    worse = int((b_signed < a_signed).sum())
    better = int((b_signed > a_signed).sum())
    return Comparison(
        benchmark=base.benchmark,
        metric=base.metric,
        n=int(a.size),
        base=base_mean,
        candidate=cand_mean,
        difference=difference,
        difference_ci=_percentile_interval(base_means - cand_means, confidence),
        relative=relative,
        relative_ci=_percentile_interval(np.asarray(_relative(base_means, cand_means)), confidence),
        # McNemar needs binary outcomes. Graded or continuous scores (a ROUGE, a log-likelihood)
        # carry how much each item changed, which a sign test would throw away: paired t.
        p_value=exact_mcnemar(worse, better) if binary else paired_t_p(a_signed, b_signed),
        p_is_mcnemar=binary,
        p_test="mcnemar" if binary else "paired_t",
        worse=worse,
        better=better,
        higher_is_better=higher_is_better,
    )


GENERAL_STATUSES = ("pass", "fail", "undecided", "uninformative")


def status_of(comparison: Comparison | dict[str, Any], threshold: float, policy: str) -> str:
    """The one rule that turns a general benchmark's comparison into pass / fail / undecided / uninformative.

    A status set by the sequential policy or the chance check stands as recorded.
    Otherwise ``point`` tests the estimate and ``strict`` the upper CI bound; both
    know only pass and fail, and a NaN (base scored 0) fails.
    """
    get = comparison.get if isinstance(comparison, dict) else lambda key, default=None: getattr(comparison, key, default)
    recorded = get("status", "") or ""
    if recorded == "uninformative" or (policy == "sequential" and recorded in GENERAL_STATUSES):
        return recorded
    ci = get("relative_ci")
    high = ci["high"] if isinstance(ci, dict) else ci.high
    value = get("relative") if policy == "point" else high
    return "pass" if value < threshold else "fail"


# The one place a status gets its words: "decided" only where a sequential test decided it.
STATUS_LABELS = {"pass": "decided pass", "fail": "decided fail", "undecided": "undecided",
                 "uninformative": "uninformative"}


def status_label(status: str, policy: str) -> str:
    """"decided pass" / "decided fail" only where a sequential test decided it; point/strict say pass / fail."""
    return STATUS_LABELS.get(status, status) if policy == "sequential" else status


def gain_rank(gain: float) -> float:
    """A domain gain as a sort key: a missing one (NaN: no domain benchmark) ranks below every number."""
    return gain if gain == gain else float("-inf")


def gain_status(comparison: Comparison, *, alpha: float = 0.05) -> str:
    """A domain benchmark: "gain" or "worse" only when McNemar (or the paired t-test) says so at ``alpha``."""
    if comparison.p_value < alpha and comparison.better > comparison.worse:
        return "gain"
    if comparison.p_value < alpha and comparison.worse > comparison.better:
        return "worse"
    return "no significant change"


def overall_status(statuses: Sequence[str]) -> str:
    """A round: fail if any benchmark failed, undecided if any is (or none is informative), else pass."""
    informative = [s for s in statuses if s != "uninformative"]
    if "fail" in informative:
        return "fail"
    if not informative or "undecided" in informative:
        return "undecided"
    return "pass"


def forgetting_verdict(comparisons: Sequence[Comparison], *, threshold: float, policy: Policy = "point") -> Verdict:
    """Pass when every benchmark's relative degradation (percent) stays under ``threshold``.

    ``point`` (the seed's rule) tests each point estimate; ``strict`` tests each upper
    95% bound, so a benchmark passes only if the data rule out a drop of ``threshold``.
    """
    if policy not in POLICIES:
        raise UsageError(f"forgetting policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    verdict = Verdict(passed=True, policy=policy, threshold=threshold)
    statuses = []
    for c in comparisons:
        status = status_of(c, threshold, policy)
        statuses.append(status)
        if status == "pass":
            continue
        if status == "uninformative":
            verdict.reasons.append(f"{c.benchmark}: uninformative for this model, not gated ({c.reason})")
            continue
        verdict.failing.append(c.benchmark)
        if status == "undecided":
            verdict.reasons.append(f"{c.benchmark}: undecided at n={c.n}" + (f" ({c.reason})" if c.reason else ""))
        elif policy == "sequential":
            verdict.reasons.append(f"{c.benchmark}: decided fail, forgetting {c.relative:.2f}% with lower bound "
                                   f"{c.relative_ci.low:.2f}% >= {threshold:g}% at n={c.n}")
        else:
            value = c.relative if policy == "point" else c.relative_ci.high
            label = "degradation" if policy == "point" else "upper 95% bound of degradation"
            verdict.reasons.append(f"{c.benchmark}: {label} {value:.2f}% is not below {threshold:g}%")
    verdict.status = overall_status(statuses)
    verdict.passed = verdict.status == "pass"
    return verdict


def gain_verdict(comparisons: Sequence[Comparison], *, min_gain: float = 0.0, policy: Policy = "point") -> Verdict:
    """Domain gain: pass when every relative gain (percent) exceeds ``min_gain``.

    Gain is the negated degradation; under ``strict`` the lower bound of the gain
    (the negated upper bound of the degradation) must exceed ``min_gain``.
    """
    if policy not in POLICIES:
        raise UsageError(f"gain policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    verdict = Verdict(passed=True, policy=policy, threshold=min_gain)
    for c in comparisons:
        gain = -c.relative if policy != "strict" else -c.relative_ci.high
        if not (gain > min_gain):
            verdict.passed = False
            verdict.failing.append(c.benchmark)
            verdict.reasons.append(f"{c.benchmark}: relative gain {gain:.2f}% is not above {min_gain:g}%")
    return verdict
