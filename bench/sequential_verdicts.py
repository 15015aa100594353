"""Sequential verdicts by simulation: error rates, interval coverage, items used against a fixed design.

Synthetic paired items with a known true forgetting (``harness.evaluation.simulation``) are
judged by the same code the loop runs. For each scenario it prints how often the
sequential design decides pass / fail / nothing and its mean items, then the
smallest fixed-sample design (one look, same one-sided level) that decides as
often, and the ratio of items. Then the 95% interval's coverage at a few n.

    .venv/bin/python bench/sequential_verdicts.py [--replications 1000] [--spending pocock]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.evaluation import sequential  # noqa: E402
from harness.evaluation.simulation import Scenario, interval_coverage, operating_characteristics, run_fixed  # noqa: E402

SCENARIOS = [
    ("clear pass", Scenario(0.8, 0.00, 0.04)),
    ("pass, p_b 0.7", Scenario(0.7, 0.00, 0.05)),
    ("hard pass (docs table)", Scenario(0.6, 0.00, 0.10)),
    ("just above T (false pass)", Scenario(0.6, 0.06, 0.10)),
    ("at T, low p_b (false pass)", Scenario(0.4, 0.055, 0.20)),
    ("clear fail", Scenario(0.6, 0.15, 0.12)),
    ("severe fail", Scenario(0.6, 0.25, 0.16)),
]


def fixed_n_with_power(scenario: Scenario, power: float, *, replications: int, seed: int,
                       threshold: float, alpha: float) -> int | None:
    """The smallest n (step 25) at which one look decides at least as often as ``power``."""
    for n in range(25, 3201, 25):
        rng = np.random.default_rng(seed)
        decided = sum(run_fixed(*scenario.draw(n, rng), n, threshold, alpha).status != "undecided"
                      for _ in range(replications))
        if decided / replications >= power:
            return n
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=1000)
    parser.add_argument("--spending", default="pocock", choices=["pocock", "obrien_fleming", "bonferroni"])
    parser.add_argument("--first-look", type=int, default=50)
    parser.add_argument("--max-items", type=int, default=800)
    parser.add_argument("--threshold", type=float, default=5.0, help="percent")
    args = parser.parse_args()
    looks = sequential.looks_schedule(args.first_look, args.max_items)
    threshold, alpha = args.threshold / 100, 0.025
    bounds = sequential.boundaries(tuple(looks), alpha, args.spending)
    print(f"looks {looks}; {args.spending} spending, one-sided {alpha} per decision; "
          f"z boundaries {', '.join(f'{b:.2f}' for b in bounds)}; {args.replications} replications\n")
    print(f"{'scenario':<28} {'p_b':>4} {'true':>5} {'disc':>5} | {'pass':>6} {'fail':>6} {'undec':>6} "
          f"{'items':>6} | {'fixed n':>7} {'ratio':>6}")
    started = time.perf_counter()
    for label, scenario in SCENARIOS:
        oc = operating_characteristics(scenario, looks=looks, threshold=threshold, alpha=alpha,
                                       spending=args.spending, replications=args.replications, seed=1)
        power = max(oc["pass"], oc["fail"])
        truth_passes = scenario.forgetting < threshold
        fixed = (fixed_n_with_power(scenario, power, replications=min(args.replications, 400), seed=1,
                                    threshold=threshold, alpha=alpha)
                 if power >= 0.5 and (oc["pass"] if truth_passes else oc["fail"]) == power else None)
        ratio = f"{oc['mean_items'] / fixed:.2f}" if fixed else "-"
        print(f"{label:<28} {scenario.p_base:>4.2f} {scenario.forgetting:>5.3f} {scenario.discordance:>5.2f} | "
              f"{oc['pass']:>6.3f} {oc['fail']:>6.3f} {oc['undecided']:>6.3f} {oc['mean_items']:>6.0f} | "
              f"{fixed or '-':>7} {ratio:>6}")
    print("\ncoverage of the 95% interval (Fieller on the paired test, with the small-sample adjustment):")
    for scenario in (Scenario(0.6, 0.0, 0.10), Scenario(0.6, 0.05, 0.10), Scenario(0.3, 0.10, 0.20),
                     Scenario(0.8, 0.0, 0.02)):
        cells = [f"n={n}: {interval_coverage(scenario, n=n, replications=args.replications, seed=2):.3f}"
                 for n in (50, 200, 800)]
        print(f"  p_b {scenario.p_base} true {scenario.forgetting} disc {scenario.discordance}: " + ", ".join(cells))
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
