"""Base-assisted sampling: spend the candidate's items where the base says flips are likely.

With ``benchmarks.base_full: true`` the base model is scored once on every item of a
general benchmark (cached, reused by every round, probe, strategy and run), so the
base's benchmark score is known exactly and only the candidate's change ``d = f - b``
must be estimated. Items change where the base was unsure: its per-item margin (the
right answer's log-likelihood over the best wrong one's, ``ItemScore.margin``)
predicts it. So the candidate's items are drawn with probability

    pi_i = (1 - EVEN) q_i / sum(q) + EVEN / N,   q_i = exp(-|margin_i| / median |margin|)

(uniform where no margins are known), with replacement, seeded. In an interpolation
search each probe is the same update at another scale, and where the probe before it
was scored, what it did predicts far better than the margin: on real replays an item
the previous probe flipped flips again about half the time (47-64%), one it left alone
about 1 time in 100 (0-4%). So ``q_i`` is multiplied by ``FLIPPED`` where the earlier probe changed
the item and by ``STEADY`` where it scored it unchanged. Only probes: a new round
trains anew and changes items the last left alone (9-17% of them on the replays), and
steering draws away from those made wrong decisions 6.7% of the time in simulation. Each draw gives
``Z = d_I / (N pi_I)``, an unbiased estimate of the benchmark's mean change whatever
the ``q`` (importance weighting: a poor propensity costs width, never validity), and
the draws are independent, so the anytime confidence sequence of
:mod:`harness.evaluation.sequential` applies to their mean as it stands. A draw of an
item already scored costs nothing (the Scorer has it), so the budget counts distinct
items. ``EVEN`` keeps every weight below ``1 / EVEN``, which keeps the variance and its
estimate tame when the propensity misses a flip.

The draws are packed into :class:`~harness.evaluation.paired_moments.Moments` as paired
"items" ``(b, f, c) = (mu_b, mu_b + Z, mu_c)`` (the exact base and chance means), so
the test, its Fieller interval, the gate's re-judging at another threshold and the
reports take them unchanged.
"""

from __future__ import annotations

import dataclasses
import zlib
from typing import Sequence

import numpy as np

from harness.records import ItemScore
from harness.evaluation.paired_moments import DISCORDANCE_CONFIDENCE, Moments

EVEN = 0.25  # the share of the draws spread evenly over all items
# The earlier probe's flip, or its unchanged score, on the item. Bolder factors (10, 0.2)
# saved a few more items on the real replays but broke the error bound in simulation (4.0%
# wrong decisions against 2.5% in 1000 runs near the threshold): the draws then carry
# weights so uneven that the rare heavy ones arrive late and the normal approximation
# behind the sequence fails at the first looks. These keep within it (simulation.earlier_error).
FLIPPED, STEADY = 4.0, 0.5


def draw_probabilities(base: Sequence[ItemScore], earlier: np.ndarray | None = None) -> np.ndarray:
    """pi over the items in ``base``'s order (see the module docstring).

    ``earlier``: per item, an earlier candidate's change from the base (NaN where it was
    not scored). It must not come from the candidate being judged: the probabilities are
    fixed before its first item is drawn, which is what keeps the estimate unbiased.
    """
    margins = np.array([np.nan if i.margin is None else abs(i.margin) for i in base], dtype=np.float64)
    size = len(base)
    if size == 0:
        return np.zeros(0)
    known = ~np.isnan(margins)
    if known.any():
        scale = float(np.median(margins[known])) or 1.0
        # An item with no margin is treated as an unsure one (the most likely to flip).
        propensity = np.where(known, np.exp(-np.nan_to_num(margins) / scale), 1.0)
    else:
        propensity = np.ones(size)
    if earlier is not None:
        seen = ~np.isnan(earlier)
        propensity = propensity * np.where(seen, np.where(np.nan_to_num(earlier) != 0, FLIPPED, STEADY), 1.0)
    if not known.any() and (earlier is None or np.isnan(earlier).all()):
        return np.full(size, 1 / size)
    return (1 - EVEN) * propensity / propensity.sum() + EVEN / size


def earlier_changes(base: Sequence[ItemScore], earlier: Sequence[ItemScore] | None) -> np.ndarray | None:
    """Per item of ``base``, the earlier candidate's score minus the base's (NaN where not scored)."""
    if not earlier:
        return None
    scores = {item.item_id: item.score for item in earlier}
    return np.array([scores[i.item_id] - i.score if i.item_id in scores else np.nan for i in base])


def draw_order(probabilities: np.ndarray, draws: int, seed: int, name: str) -> np.ndarray:
    """``draws`` item indices drawn with replacement, from a generator seeded by ``seed`` and the benchmark."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    return rng.choice(len(probabilities), size=draws, p=probabilities)


def distinct_counts(order: np.ndarray) -> np.ndarray:
    """After each draw, how many distinct items have been drawn (what the candidate has scored)."""
    new = np.zeros(order.size, bool)
    new[np.unique(order, return_index=True)[1]] = True  # a draw of an item not drawn before
    return np.cumsum(new)


def assisted_moments(order: np.ndarray, probabilities: np.ndarray, base: np.ndarray, candidate: np.ndarray,
                     chance: np.ndarray | None, *, higher_is_better: bool = True) -> Moments:
    """The moments of the draws in ``order`` (``base`` for every item; ``candidate`` where drawn)."""
    size = len(probabilities)
    change = candidate[order] - base[order]
    if not higher_is_better:
        change = -change  # the same flip as Moments.of: a positive change is always an improvement
    weights = 1 / (size * probabilities[order])
    estimates = change * weights
    mean_b, mean_c = float(base.mean()), float(chance.mean()) if chance is not None else 0.0
    k = len(order)
    moments = Moments.of(np.full(k, mean_b), mean_b + estimates, np.full(k, mean_c))
    # Few draws that show no change would give a variance near 0: floor it as the unweighted
    # test does, with the weights the draws carried.
    from scipy.stats import beta

    changed = change != 0
    share = float(beta.ppf(DISCORDANCE_CONFIDENCE, changed.sum() + 1, max(k - changed.sum(), 1e-9)))
    # E[Z^2] = P(a drawn item changed) x E[w^2 | changed]; before any change is seen, every draw's weight.
    typical = float(np.mean(weights[changed] ** 2)) if changed.any() else float(np.mean(weights**2))
    floor = share * typical - float(estimates.mean()) ** 2
    return dataclasses.replace(moments, graded=True, variance_floor=max(floor, 0.0))


__all__ = ["EVEN", "FLIPPED", "STEADY", "assisted_moments", "distinct_counts", "draw_order", "draw_probabilities",
           "earlier_changes"]
