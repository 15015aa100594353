"""Paired scores reduced to sufficient statistics, and the forgetting test on them at any threshold.

:class:`Moments` holds the first and second moments of (base score, fine-tuned
score, chance) over the items scored so far: enough to compute the test
statistic (:meth:`Moments.z`) and the confidence interval of the relative
forgetting (:meth:`Moments.interval`) at any threshold, so a saved verdict can
be re-judged without its items. When to look, and which boundary each look
uses, is :mod:`harness.evaluation.sequential`.

The test. With threshold ``T`` (a fraction), per item ``i`` the paired score
``y_i = x_f,i - (1 - T) * x_b,i - T * c_i`` has mean ``> 0`` exactly when the
relative forgetting ``(p_b - p_f) / (p_b - c)`` is below ``T`` (``c`` is the
item's chance level for the chance-corrected measure, 0 for the seed's
``(p_b - p_f) / p_b``). So each decision is a one-sample test on a mean, with no
ratio to approximate, and its confidence interval for the forgetting itself is
Fieller's: the thresholds the test would not reject.

When a benchmark's items are the whole population, sampled without
replacement, the test centres on :func:`location_sums` instead of the plain
means, so its interval closes on the exact value as the last items are scored.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

# How sure the bound on the share of changed items is, below which Var d is not taken (Moments._test_variances).
DISCORDANCE_CONFIDENCE = 0.9


@dataclass(frozen=True)
class Moments:
    """First and second moments of (base score, fine-tuned score, chance) over paired items.

    Enough to compute the test at any threshold, so a saved verdict can be
    re-judged without the items.
    """

    n: float  # items (a float: the small-sample adjustment adds half-items)
    b: float  # sums
    f: float
    c: float
    bb: float  # sums of products
    ff: float
    cc: float
    bf: float
    bc: float
    fc: float
    # Scores other than 0/1 (a graded metric, a log-likelihood): no pseudo-items, whose 0/1
    # values would bias a mean on another scale.
    graded: bool = False
    # The benchmark's size N when its items are the population (sampled without replacement,
    # in the order scored), and the martingale's location sums of d = f - b and e = b - c for
    # that population (see :func:`location_sums`); None: an infinite population, plain sums.
    population: int | None = None
    ld: float | None = None
    le: float | None = None
    le_plain: float | None = None  # the same for e = b (the uncorrected measure)
    # The least Var d the test takes (base-assisted draws, whose weighted changes are not 0/1).
    variance_floor: float | None = None

    @classmethod
    def of(cls, base: Sequence[float], candidate: Sequence[float], chance: Sequence[float] | None = None,
           *, higher_is_better: bool = True, population: int | None = None) -> Moments:
        """The moments of paired scores; for a lower-is-better metric, of the scores that test it.

        Lower is better: forgetting is ``(p_f - p_b) / p_b``, which is the higher-is-better
        formula applied to the candidate ``2 x_b - x_f`` (same differences, sign flipped),
        so every test, interval and re-judgement below holds unchanged.
        """
        xb = np.asarray(base, dtype=np.float64)
        xf = np.asarray(candidate, dtype=np.float64)
        if not higher_is_better:
            xf = 2 * xb - xf
        xc = np.zeros_like(xb) if chance is None else np.asarray(chance, dtype=np.float64)
        graded = not bool(np.isin(xb, (0.0, 1.0)).all() and np.isin(xf, (0.0, 1.0)).all())
        located: dict[str, float | int | None] = {}
        if population is not None:
            if xb.size > population:
                raise ValueError(f"{xb.size} items scored from a population of {population}")
            located = {"population": int(population), "ld": location_sums(xf - xb, population),
                       "le": location_sums(xb - xc, population), "le_plain": location_sums(xb, population)}
        return cls(int(xb.size), float(xb.sum()), float(xf.sum()), float(xc.sum()), float(xb @ xb),
                   float(xf @ xf), float(xc @ xc), float(xb @ xf), float(xb @ xc), float(xf @ xc), graded,
                   **located)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def adjusted(self) -> Moments:
        """These moments plus half an item in each cell of the paired 2x2 table (Agresti & Min).

        With few or no discordant items the plug-in variance is near 0 and a test on
        it would "decide" from ten identical answers; the pseudo-items keep the
        variance honest at small n and vanish in weight as n grows.
        """
        if self.graded:
            return self
        chance = self.c / self.n if self.n else 0.0
        out = self
        for b, f in ((1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)):
            out = out._plus(b, f, chance, weight=0.5)
        return out

    def _plus(self, b: float, f: float, c: float, weight: float) -> Moments:
        return Moments(self.n + weight, self.b + weight * b, self.f + weight * f, self.c + weight * c,
                       self.bb + weight * b * b, self.ff + weight * f * f, self.cc + weight * c * c,
                       self.bf + weight * b * f, self.bc + weight * b * c, self.fc + weight * f * c, self.graded,
                       self.population, self.ld, self.le, self.le_plain, self.variance_floor)

    def _test_variances(self, corrected: bool) -> tuple[float, float, float]:
        """(Var d, Var e, Cov d e) for the test: the :meth:`adjusted` moments', with Var d no lower than
        the upper confidence bound on the share of changed items allows.

        With 0/1 scores, ``d = f - b`` is nonzero only on the items that changed, so its
        variance is about that share; when changes are rare and nearly all losses, a small
        sample often shows none and the plug-in variance calls a forgetting model clean
        (simulated: 4% false passes at a stated 2.5%, base 0.9, 19 losses per gain). A
        one-sided Clopper-Pearson bound on the changed share keeps small samples honest and
        costs little width once changes have been seen.
        """
        m = self.adjusted()
        mean_d, _, vdd, vee, vde = m.paired_statistics(corrected)
        if self.variance_floor is not None:
            vdd = max(vdd, self.variance_floor)
        if self.graded or self.n < 1:
            return vdd, vee, vde
        from scipy.stats import beta

        changed = round(self.ff - 2 * self.bf + self.bb)  # items whose 0/1 outcome differs
        share = float(beta.ppf(DISCORDANCE_CONFIDENCE, changed + 1, max(self.n - changed, 1e-9)))
        return max(vdd, share - mean_d**2), vee, vde

    @property
    def complete(self) -> bool:
        """Every item of a finite population is scored: the scores are the benchmark's own, exactly."""
        return self.population is not None and self.n >= self.population

    def _location(self, corrected: bool) -> tuple[float, float]:
        """Where the test centres d and e, per item: the population martingale's sums / n, else the means."""
        if self.ld is None:
            c = self.c if corrected else 0.0
            return (self.f - self.b) / self.n, (self.b - c) / self.n
        return self.ld / self.n, (self.le if corrected else self.le_plain) / self.n

    # y = d + t * e with d = f - b and e = b - c (c = 0 unless chance-corrected)
    def paired_statistics(self, corrected: bool) -> tuple[float, float, float, float, float]:
        """Means of d and e, and the sample (co)variances of d and e (ddof 1)."""
        n = self.n
        c, cc, bc, fc = (self.c, self.cc, self.bc, self.fc) if corrected else (0.0, 0.0, 0.0, 0.0)
        sd, se = self.f - self.b, self.b - c
        sdd = self.ff - 2 * self.bf + self.bb
        see = self.bb - 2 * bc + cc
        sde = self.bf - fc - self.bb + bc
        mean_d, mean_e = sd / n, se / n
        scale = 1 / (n - 1) if n > 1 else 0.0
        return (mean_d, mean_e, (sdd - n * mean_d**2) * scale, (see - n * mean_e**2) * scale,
                (sde - n * mean_d * mean_e) * scale)

    def forgetting(self, corrected: bool = False) -> float:
        """Relative forgetting ``(p_b - p_f) / (p_b - c)`` as a fraction (nan when ``p_b <= c``)."""
        mean_d, mean_e, *_ = self.paired_statistics(corrected)
        return -mean_d / mean_e if mean_e > 0 else math.nan

    def z(self, threshold: float, corrected: bool = False) -> float:
        """The test statistic at ``threshold`` (a fraction): large positive means a clear pass.

        Computed on the :meth:`adjusted` moments, like :meth:`interval`.
        """
        m = self.adjusted()
        vdd, vee, vde = self._test_variances(corrected)
        mean_d, mean_e = self._location(corrected) if self.ld is not None else m.paired_statistics(corrected)[:2]
        n = self.n if self.ld is not None else m.n
        mean = mean_d + threshold * mean_e
        var = max(vdd + 2 * threshold * vde + threshold**2 * vee, 0.0)
        if var == 0:
            return math.copysign(math.inf, mean) if mean else 0.0
        return mean / math.sqrt(var / n)

    def interval(self, critical: float, corrected: bool = False) -> tuple[float, float]:
        """Fieller's interval for the relative forgetting: every ``t`` with ``|z(t)| < critical``.

        Unbounded (an infinite end) when the base itself is not clearly above chance
        at this level: then no threshold could be ruled out.
        """
        if self.complete:
            exact = self.forgetting(corrected)
            return exact, exact  # no sampling error: the benchmark's own scores
        m = self.adjusted()
        vdd, vee, vde = self._test_variances(corrected)
        mean_d, mean_e = self._location(corrected) if self.ld is not None else m.paired_statistics(corrected)[:2]
        k = critical**2 / (self.n if self.ld is not None else m.n)
        a = mean_e**2 - k * vee
        half_b = mean_d * mean_e - k * vde
        c = mean_d**2 - k * vdd
        if a <= 0:
            return (-math.inf, math.inf)
        disc = max(half_b**2 - a * c, 0.0)
        roots = sorted(((-half_b - math.sqrt(disc)) / a, (-half_b + math.sqrt(disc)) / a))
        return roots[0], roots[1]


def location_sums(values: np.ndarray, population: int) -> float:
    """``sum_i v_i + sum_i S_(i-1) / (N - i + 1)`` over the items in the order scored.

    Sampling without replacement from ``N`` items, the expected next value given the
    past is the mean of the items not yet seen, ``(N mu - S_(i-1)) / (N - i + 1)``; the
    deviations from it form a martingale whose sum is ``A_n - mu B_n`` with ``A_n`` this
    sum and ``B_n = sum_i N / (N - i + 1)`` (Waudby-Smith & Ramdas 2020). A test of ``mu
    > 0`` needs only the sign of ``A_n`` against its boundary, so ``B_n`` is never stored.
    As ``n`` nears ``N`` the later terms weigh more and the sequence closes on the exact
    mean; with ``N`` infinite this is the plain sum.
    """
    values = np.asarray(values, dtype=np.float64)
    before = np.concatenate(([0.0], np.cumsum(values)[:-1]))
    remaining = population - np.arange(values.size)  # N - i + 1 for i = 1..n
    return float(values.sum() + (before / remaining).sum())
