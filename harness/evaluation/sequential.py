"""Sequential forgetting verdicts: decided pass, decided fail, or undecided.

Per general benchmark, base and fine-tuned are scored on the same items, taken in
one fixed seeded order, at a few *looks* (50, 66, 82, ... items for the anytime
sequence; 50, 75, 113, ... for planned looks). After each look the benchmark is

- **decided pass** when the upper confidence bound of its relative forgetting is
  below the threshold,
- **decided fail** when the lower bound is at or above it,
- **undecided** otherwise, and only undecided benchmarks are scored further.

The test on each look's paired scores, and its confidence interval for the
forgetting (Fieller's), are :class:`harness.evaluation.paired_moments.Moments`.

Looking more than once spends the error rate across looks (Lan-DeMets alpha
spending): :func:`boundaries` computes exact group-sequential critical values by
recursive numerical integration (Jennison & Turnbull, ch. 19), so the chance of a
false pass over *all* looks stays at the stated level. The critical values are
then taken as Student-t quantiles at each look's sample size, which keeps small
first looks honest. Everything here is pure computation on sufficient
statistics, so ``harness gate`` can re-judge a saved run at another threshold.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Callable, Literal, Sequence

import numpy as np

from harness.evaluation.paired_moments import Moments

Spending = Literal["anytime", "obrien_fleming", "pocock", "bonferroni"]
# The planned-looks designs: valid for a maximum fixed in advance (kept to re-judge runs saved
# under them, and to compare in bench/sequential_verdicts.py).
PLANNED = ("obrien_fleming", "pocock", "bonferroni")
SPENDING_NAMES: dict[str, str] = {
    "anytime": "an anytime-valid confidence sequence (one-sided normal mixture)",
    "obrien_fleming": "O'Brien-Fleming-type alpha spending (Lan-DeMets)",
    "pocock": "Pocock-type alpha spending (Lan-DeMets)",
    "bonferroni": "Bonferroni over looks",
}
Status = Literal["pass", "fail", "undecided", "uninformative"]

# Grid resolution of the numerical integration: points per unit of z.
_GRID_PER_Z = 100


# Each look has this many times the items of the last. Measured by simulation
# (bench/sequential_verdicts.py): 1.5 saves more items than doubling, and finer
# steps buy little while each extra look raises the planned boundaries.
LOOK_GROWTH = 1.5
# An anytime-valid sequence pays nothing in principle for looking more often (its boundary
# depends on n alone), so anytime verdicts look every 20% more items and stop nearer the point
# where the evidence first suffices (bench/sequential_verdicts.py --replay measures the items
# saved). Not every 10%: the sequence's variance is estimated, and with rare, one-sided changes
# (base 0.9, losses only, true forgetting at the threshold) each extra look costs a little of
# the error's margin: false passes 0.0125 looking every 50%, 0.0167 every 20%, 0.0190 every
# 10% (3000 simulated runs each, 2000 at 50%; budget raised twice; stated 0.025). A look
# scores at least MIN_LOOK_STEP new items, so small looks still fill a batch.
ANYTIME_LOOK_GROWTH = 1.2
MIN_LOOK_STEP = 16


def looks_schedule(first: int, max_items: int, *, anytime: bool = False) -> list[int]:
    """Item counts at which a benchmark is judged: ``first``, then x1.5 each time (x1.2, and at least
    ``MIN_LOOK_STEP`` more, for an ``anytime`` sequence), ending at ``max_items``."""
    if first < 1 or max_items < first:
        raise ValueError(f"looks need 1 <= first ({first}) <= max_items ({max_items})")

    def following(n: int) -> int:
        return max(math.ceil(n * ANYTIME_LOOK_GROWTH), n + MIN_LOOK_STEP) if anytime else math.ceil(n * LOOK_GROWTH)

    looks = [first]
    while following(looks[-1]) < max_items:
        looks.append(following(looks[-1]))
    if looks[-1] != max_items:
        looks.append(max_items)
    return looks


def _norm_cdf(x: np.ndarray | float) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(x)


def _norm_ppf(p: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(p))


def spent(t: float, alpha: float, spending: Spending) -> float:
    """Cumulative one-sided error spent by information fraction ``t`` (0 < t <= 1)."""
    t = min(max(t, 0.0), 1.0)
    if t == 0:
        return 0.0
    if spending == "obrien_fleming":
        # Lan-DeMets' O'Brien-Fleming-like function, written for a one-sided level.
        return float(2 - 2 * _norm_cdf(_norm_ppf(1 - alpha / 2) / math.sqrt(t)))
    if spending == "pocock":
        return alpha * math.log(1 + (math.e - 1) * t)
    raise ValueError(f"unknown spending function {spending!r}")


@lru_cache(maxsize=64)
def boundaries(looks: tuple[int, ...], alpha: float, spending: Spending) -> tuple[float, ...]:
    """Critical z per look: cross ``+b`` to decide pass, ``-b`` to decide fail.

    With zero drift (true forgetting exactly at the threshold) the chance of ever
    crossing ``+b`` (a false pass) is ``alpha`` in all, spent look by look as the
    spending function says; by symmetry the same holds for a false fail.
    """
    if not looks or any(b <= a for a, b in zip(looks, looks[1:])):
        raise ValueError(f"looks must be increasing item counts, got {list(looks)}")
    k = len(looks)
    if spending == "bonferroni":
        return tuple([_norm_ppf(1 - alpha / k)] * k)
    fractions = [n / looks[-1] for n in looks]
    increments = np.diff([0.0] + [spent(t, alpha, spending) for t in fractions])
    bounds: list[float] = []
    grid = density = None  # the sub-density of Z at the previous look, on the continuation region
    for index, (n, step) in enumerate(zip(looks, increments)):
        if index == 0:
            b = _norm_ppf(1 - step)
        else:
            b = _solve_bound(grid, density, looks[index - 1], n, step)
        bounds.append(b)
        grid, density = _advance(grid, density, looks[index - 1] if index else None, n, b)
    return tuple(bounds)


def _transition(grid: np.ndarray, n_prev: int, n: int, z: np.ndarray | float) -> np.ndarray:
    """P(Z_n >= z | Z_prev = grid): Brownian motion in information time (information = items)."""
    scale = math.sqrt(n - n_prev)
    return 1 - _norm_cdf((np.asarray(z) * math.sqrt(n) - grid * math.sqrt(n_prev)) / scale)


def _solve_bound(grid: np.ndarray, density: np.ndarray, n_prev: int, n: int, target: float) -> float:
    """The z whose upper crossing probability at this look, given no decision before, is ``target``."""
    weights = _trapezoid_weights(grid) * density

    def crossing(z: float) -> float:
        return float(np.sum(weights * _transition(grid, n_prev, n, z)))

    if target <= 0:
        return math.inf
    low, high = 0.0, 12.0
    for _ in range(80):  # bisection: crossing(z) falls as z grows
        middle = (low + high) / 2
        if crossing(middle) > target:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _advance(grid, density, n_prev, n, b) -> tuple[np.ndarray, np.ndarray]:
    """The sub-density of Z at this look on (-b, b): the paths that are still undecided."""
    width = min(b, 12.0)
    new_grid = np.linspace(-width, width, max(int(2 * width * _GRID_PER_Z), 50) + 1)
    if grid is None:
        return new_grid, np.exp(-new_grid**2 / 2) / math.sqrt(2 * math.pi)
    scale = math.sqrt(n - n_prev)
    # f_n(z') = integral f_prev(z) * phi((z' sqrt(n) - z sqrt(n_prev)) / scale) * sqrt(n) / scale dz
    u = (new_grid[:, None] * math.sqrt(n) - grid[None, :] * math.sqrt(n_prev)) / scale
    kernel = np.exp(-u**2 / 2) / math.sqrt(2 * math.pi) * math.sqrt(n) / scale
    return new_grid, kernel @ (_trapezoid_weights(grid) * density)


def _trapezoid_weights(grid: np.ndarray) -> np.ndarray:
    h = grid[1] - grid[0]
    weights = np.full(grid.shape, h)
    weights[0] = weights[-1] = h / 2
    return weights


# The confidence sequence is tightest near this many items; fixed in advance, never taken
# from the data (bench/sequential_verdicts.py measured 200..800 items; see ANYTIME_WIDTH).
ANYTIME_TUNED_AT = 300


@lru_cache(maxsize=4096)
def anytime_critical(n: int, alpha: float, tuned_at: int = ANYTIME_TUNED_AT) -> float:
    """The z-scale boundary at ``n`` items of a one-sided normal-mixture confidence sequence.

    The mixture over positive drifts ``lambda`` (half-normal, precision ``r`` items) of
    ``exp(lambda S - lambda^2 V / 2)`` is a nonnegative supermartingale, so by Ville's
    inequality it exceeds ``1 / alpha`` at *any* number of items, however chosen, with
    probability at most ``alpha`` (Howard et al. 2021; with the variance estimated, an
    asymptotic confidence sequence: Waudby-Smith et al. 2024). In closed form it is
    ``2 sqrt(r / (V + r)) exp(s^2 / 2) Phi(s)`` with ``s = S / sqrt(V + r)``; this
    returns ``S / sqrt(V)`` where it reaches ``1 / alpha``, with ``V = n`` (standardised).
    ``r`` is chosen once, to make the boundary lowest at ``tuned_at`` items.
    """
    r = _mixture_precision(alpha, tuned_at)
    return _mixture_boundary(n, r, alpha)


def _mixture_boundary(n: float, r: float, alpha: float) -> float:
    from scipy.special import log_ndtr

    target = math.log(1 / alpha) - math.log(2) + 0.5 * math.log((n + r) / r)
    low, high = 0.0, 40.0
    for _ in range(100):  # s^2 / 2 + log Phi(s) rises with s
        middle = (low + high) / 2
        if middle**2 / 2 + float(log_ndtr(middle)) < target:
            low = middle
        else:
            high = middle
    return high * math.sqrt((n + r) / n)


@lru_cache(maxsize=64)
def _mixture_precision(alpha: float, tuned_at: int) -> float:
    from scipy.optimize import minimize_scalar

    best = minimize_scalar(lambda log_r: _mixture_boundary(tuned_at, math.exp(log_r), alpha),
                           bounds=(math.log(1e-3 * tuned_at), math.log(1e3 * tuned_at)), method="bounded")
    return math.exp(best.x)


def critical_value(z_bound: float, n: int) -> float:
    """A normal boundary as the Student-t quantile of the same tail at ``n`` items (honest at small n)."""
    if not math.isfinite(z_bound):
        return z_bound
    from scipy.stats import t as student_t

    tail = float(1 - _norm_cdf(z_bound))
    return float(student_t.isf(tail, df=max(n - 1, 1))) if tail > 0 else z_bound


# ------------------------------------------------------------------------- decisions


@dataclass
class Look:
    """One look at one benchmark: the items so far, the boundary used, what it said."""

    n: int
    critical: float
    z: float
    status: Status
    moments: dict[str, float]

    def as_dict(self) -> dict:
        return asdict(self)


def decide(moments: Moments, threshold: float, critical: float, *, corrected: bool = False) -> Status:
    """Pass, fail, or undecided at one look (``threshold`` a fraction)."""
    if moments.complete:
        # Every item scored: the forgetting is known exactly, and must stay below the threshold.
        forgetting = moments.forgetting(corrected)
        # Below the threshold, with float rounding of the sums (20/400 must not pass at 5%) read as at it.
        return "pass" if forgetting < threshold - 1e-9 else "fail"
    z = moments.z(threshold, corrected)
    if z >= critical:
        return "pass"
    if z <= -critical:
        return "fail"
    return "undecided"


def items_to_decide(moments: Moments, threshold: float, final_critical: float, *, corrected: bool = False,
                    critical_at: Callable[[int], float] | None = None) -> int | None:
    """About how many items in all would decide this benchmark, if its effect stays as measured.

    ``critical_at`` (the anytime boundary, which grows slowly with n) replaces the fixed
    ``final_critical`` when given. ``None`` when the estimate sits on the threshold: no
    budget is likely to decide it (scoring a whole finite population always does).
    """
    mean_d, mean_e, vdd, vee, vde = moments.adjusted().paired_statistics(corrected)
    mean = mean_d + threshold * mean_e
    var = vdd + 2 * threshold * vde + threshold**2 * vee
    if abs(mean) < 1e-12 or var <= 0:
        return None
    needed = int(math.ceil((final_critical**2) * var / mean**2))
    for _ in range(5 if critical_at else 0):  # a fixed point: n = critical(n)^2 var / mean^2
        needed = int(math.ceil(critical_at(max(needed, 2)) ** 2 * var / mean**2))
    if moments.population is not None:
        needed = min(needed, moments.population)
    return needed


def rejudge(looks: Sequence[dict], threshold: float, *, corrected: bool = False) -> Status:
    """The sequential status of saved looks at another threshold (the looks and boundaries as run)."""
    status: Status = "undecided"
    for look in looks:
        moments = Moments(**look["moments"])
        status = decide(moments, threshold, look["critical"], corrected=corrected)
        if status != "undecided":
            break
    return status


def binomial_above_chance(correct: int, n: int, chance: float) -> float:
    """One-sided exact binomial p-value that accuracy ``correct / n`` is above ``chance``."""
    if n == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(correct, n, chance, alternative="greater").pvalue)
