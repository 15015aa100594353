"""Where forgetting happened: per-group paired comparisons and the items that flipped.

A single MMLU number hides which of its 57 subjects fell. Given a benchmark's
base and candidate results on the same items and the benchmark's item details
(:meth:`harness.Benchmark.item_details`), this splits the comparison by group
(an MMLU subject, a leaf task of an lm-eval group, a domain topic) and lists the
items the fine-tuned model lost.

- **Groups**: each group's subset goes through :func:`stats.paired_comparison`, so its
  CI resamples items with their base and candidate scores together, exactly as the
  benchmark's own comparison does. Relative forgetting is ``(base - ft) / base``
  (not chance-corrected), at the run's confidence, with no correction for looking at
  many groups: with 57 subjects about three 95% intervals miss by chance alone. The
  breakdown describes; it never changes a verdict. Groups with fewer than
  ``MIN_GROUP_ITEMS`` items are listed (after the others) but marked too few to say.
  Groups are ordered with the largest forgetting first.
- **Flips**: an item is *right* when its score is at least 0.5. For binary scores
  (accuracy) that is exactly right/wrong; for graded scores in [0, 1] (partial
  credit) it is "at least half right". A flip is an item right on the base and wrong
  on the candidate; the reverse is counted. Scores outside [0, 1] or lower-is-better
  metrics (a loss) have no right or wrong, so they get no flip list.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from harness.components import Benchmark
from harness.records import BenchmarkResult, ItemDetail
from harness.evaluation import stats

BREAKDOWN_SCHEMA = "harness.breakdown/1"
MIN_GROUP_ITEMS = 10
RIGHT_AT = 0.5  # a score at least this counts as right (see the module docstring)
NO_GROUP = "(no group)"


def group_comparisons(
    base: BenchmarkResult,
    candidate: BenchmarkResult,
    groups: Mapping[str, str | None],
    *,
    higher_is_better: bool = True,
    confidence: float = 0.95,
    samples: int = 2000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One paired comparison per group (``groups``: item id -> group), largest forgetting first.

    Items missing from ``groups`` (or with group None) fall in ``"(no group)"``.
    """
    stats.paired_arrays(base, candidate)  # refuses results over different items, saying how
    by_group: dict[str, list[str]] = {}
    for item in base.items:
        by_group.setdefault(groups.get(item.item_id) or NO_GROUP, []).append(item.item_id)
    base_items = {i.item_id: i for i in base.items}
    cand_items = {i.item_id: i for i in candidate.items}
    rows = []
    for group, ids in by_group.items():
        # Subsets of both results over the same ids: paired_comparison pairs them by item id.
        c = stats.paired_comparison(
            BenchmarkResult(base.benchmark, base.metric, [base_items[i] for i in ids]),
            BenchmarkResult(candidate.benchmark, candidate.metric, [cand_items[i] for i in ids]),
            higher_is_better=higher_is_better, confidence=confidence, samples=samples, seed=seed,
        )
        rows.append({
            "group": group, "n": c.n, "base": c.base, "candidate": c.candidate,
            "relative": c.relative, "relative_ci": {"low": c.relative_ci.low, "high": c.relative_ci.high},
            "difference": c.difference, "p_value": c.p_value, "worse": c.worse, "better": c.better,
            "too_few_items": c.n < MIN_GROUP_ITEMS,
        })
    return sorted(rows, key=_largest_first)


def group_above_threshold(row: Mapping[str, Any], threshold: float) -> bool:
    """A group row is flagged when it has enough items and its whole interval lies at or above ``threshold``."""
    low = row["relative_ci"]["low"]
    return not row.get("too_few_items") and low is not None and low >= threshold


def _largest_first(row: dict[str, Any]) -> tuple[bool, float, str]:
    relative = row["relative"]
    known = relative is not None and math.isfinite(relative)
    return (row["too_few_items"], -relative if known else math.inf, row["group"])


def flipped_items(
    base: BenchmarkResult,
    candidate: BenchmarkResult,
    details: Mapping[str, ItemDetail],
    *,
    higher_is_better: bool = True,
) -> dict[str, Any] | None:
    """Items right on the base and wrong on the candidate, with their details; None when scores have no right/wrong."""
    scores = [i.score for i in (*base.items, *candidate.items)]
    if not higher_is_better or any(not 0.0 <= s <= 1.0 for s in scores):
        return None
    binary = all(s in (0.0, 1.0) for s in scores)
    cand = {i.item_id: i.score for i in candidate.items}
    lost, regained = [], 0
    for item in sorted(base.items, key=lambda i: i.item_id):
        was, now = item.score >= RIGHT_AT, cand[item.item_id] >= RIGHT_AT
        if was and not now:
            detail = details.get(item.item_id) or ItemDetail()
            lost.append({"item_id": item.item_id, "group": detail.group, "text": detail.text,
                         "answer": detail.answer, "base": item.score, "candidate": cand[item.item_id]})
        elif now and not was:
            regained += 1
    rule = "right = correct" if binary else f"right = score >= {RIGHT_AT:g}"
    return {"rule": rule, "right_to_wrong": lost, "wrong_to_right": regained}


def benchmark_breakdown(
    benchmark: Benchmark,
    base: BenchmarkResult,
    candidate: BenchmarkResult,
    *,
    confidence: float = 0.95,
    samples: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """One benchmark's groups (when its items carry two or more) and flipped items."""
    note = ""
    try:
        details = benchmark.item_details([i.item_id for i in base.items]) or {}
    except Exception as error:  # a report detail must not lose a finished round
        details, note = {}, f"item details unavailable ({type(error).__name__}: {error})"
    groups = {item_id: d.group for item_id, d in details.items() if d.group}
    rows = []
    if len(set(groups.values())) >= 2:
        rows = group_comparisons(base, candidate, groups, higher_is_better=benchmark.higher_is_better,
                                 confidence=confidence, samples=samples, seed=seed)
    return {
        "role": benchmark.role,
        "metric": base.metric,
        "higher_is_better": benchmark.higher_is_better,
        "n": base.n,
        "groups": rows,
        "flips": flipped_items(base, candidate, details, higher_is_better=benchmark.higher_is_better),
        "note": note,
    }


def round_breakdown(
    benchmarks: Sequence[Benchmark],
    base: Mapping[str, BenchmarkResult],
    candidate: Mapping[str, BenchmarkResult],
    *,
    confidence: float = 0.95,
    samples: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """A round's breakdown file (``breakdown.json``): every benchmark scored on both models."""
    return {
        "schema": BREAKDOWN_SCHEMA,
        "confidence": confidence,
        "min_group_items": MIN_GROUP_ITEMS,
        "benchmarks": {
            b.name: benchmark_breakdown(b, base[b.name], candidate[b.name], confidence=confidence,
                                        samples=samples, seed=seed)
            for b in benchmarks if b.name in base and b.name in candidate
        },
    }
