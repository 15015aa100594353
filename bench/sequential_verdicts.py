"""Sequential verdicts by simulation: error rates with extended budgets, coverage, items used, per design.

Synthetic paired items with a known true forgetting (``harness.evaluation.simulation``) are
judged by the same code the loop runs, under three designs:

- ``planned``: the planned-looks boundaries (Pocock-type spending) for a fixed ``max_items``;
- ``anytime``: the confidence sequence, items read as a sample of an unlimited pool;
- ``anytime, N``: the confidence sequence with the benchmark's own N items as the population.

For each scenario it prints how often each design decides pass / fail / nothing and its mean
items, first with one budget, then for a user who raises ``max_items`` twice after an
undecided result (the planned design then re-judges the same items under a new plan). With
a population the truth is each drawn benchmark's own forgetting, built exactly at the
scenario's (so "at T" is a benchmark exactly at the threshold). Then the anytime interval's
time-uniform coverage (the truth inside it at every look at once).

    .venv/bin/python bench/sequential_verdicts.py [--replications 1000] [--population 1000]
    .venv/bin/python bench/sequential_verdicts.py --replay runs/replay [--replications 300] \
        [--earlier round1_s0.5=round1 --earlier round1_s0.25=round1_s0.5 ...]  # probe after probe
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.evaluation import sequential  # noqa: E402
from harness.evaluation.simulation import Scenario, extension_error, sequence_coverage  # noqa: E402

SCENARIOS = [
    ("clear pass", Scenario(0.8, 0.00, 0.04)),
    ("pass, p_b 0.7", Scenario(0.7, 0.00, 0.05)),
    ("hard pass (docs table)", Scenario(0.6, 0.00, 0.10)),
    ("just below T (false fail)", Scenario(0.6, 0.04, 0.10)),
    ("at T (false pass)", Scenario(0.6, 0.05, 0.10)),
    ("at T, p_b 0.9, losses only", Scenario(0.9, 0.05, 0.05)),
    ("at T, low p_b (false pass)", Scenario(0.4, 0.05, 0.20)),
    ("clear fail", Scenario(0.6, 0.15, 0.12)),
    ("severe fail", Scenario(0.6, 0.25, 0.16)),
]


def _outcomes(base: dict, candidate: dict):
    import numpy as np

    by_id = {item[0]: item[1] for item in candidate["items"]}
    scores = np.array([by_id[item[0]] for item in base["items"]], dtype=np.float64)
    return scores if base.get("higher_is_better", True) else -scores


def replay(folder: Path, replications: int, first_look: int, earlier: dict[str, str]) -> None:
    """Sequential runs replayed over real per-item outcomes (bench/record_replay.py): per candidate and
    benchmark, at thresholds just below and just above its true forgetting (so any pass, or any fail, is
    wrong) and at 5%, the designs' decisions, wrong decisions and candidate items per decided verdict.

    ``earlier`` maps an interpolation probe to the probe judged before it; for those,
    "assisted+earlier" draws by the earlier probe's flips on the items its own assisted run (at
    5%, another seed) scored, as the loop's interpolation search does."""
    import json

    import numpy as np

    from harness.evaluation.simulation import earlier_from, run_assisted, run_extended

    base_dir = folder / "base"
    rows = []
    designs = ("planned", "anytime, N", "assisted", "assisted+earlier")
    for candidate_dir in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "base"):
        for file in sorted(candidate_dir.glob("*.json")):
            base, cand = (json.loads(p.read_text()) for p in (base_dir / file.name, file))
            xb = _outcomes(base, base)
            xf = _outcomes(base, cand)
            previous = (_outcomes(base, json.loads((folder / earlier[candidate_dir.name] / file.name).read_text()))
                        if candidate_dir.name in earlier else None)
            margins = np.array([np.nan if len(item) < 4 or item[3] is None else abs(item[3])
                                for item in base["items"]])
            size, truth = len(xb), float((xb.sum() - xf.sum()) / xb.sum())
            for label, threshold in (("T=truth-1pp", truth - 0.01), ("T=truth+1pp", truth + 0.01), ("T=5%", 0.05)):
                if threshold <= 0:
                    continue
                wrong_if = ("pass" if truth >= threshold else "fail")
                cells = {}
                for design in designs:
                    if design == "assisted+earlier" and previous is None:
                        continue
                    decided = wrong = items = 0
                    for r in range(replications):
                        order = np.random.default_rng([r, size]).permutation(size)
                        b, f, m = xb[order], xf[order], margins[order]
                        # The same budgets for every design: 383 items, raised to 800 after an undecided result.
                        if design == "planned":
                            out = run_extended(b, f, [min(383, size), min(800, size)], first_look, threshold, 0.025,
                                               "pocock")
                        elif design == "anytime, N":
                            out = run_extended(b, f, [min(383, size), min(800, size)], first_look, threshold,
                                               0.025, "anytime", size)
                        elif design == "assisted":
                            out = run_assisted(b, f, m, min(800, size), threshold, 0.025, first_look=first_look, seed=r)
                        else:
                            e = previous[order]
                            before = run_assisted(b, e, m, min(800, size), 0.05, 0.025, first_look=first_look,
                                                  seed=replications + r)
                            out = run_assisted(b, f, m, min(800, size), threshold, 0.025, first_look=first_look,
                                               seed=r, earlier=earlier_from(before, b, e))
                        decided += out.status != "undecided"
                        wrong += out.status == wrong_if
                        items += out.n
                    cells[design] = (decided / replications, wrong / replications,
                                     items / decided if decided else float("inf"))
                rows.append((candidate_dir.name, file.stem, size, truth, label, cells))
                print(f"{candidate_dir.name:<12} {file.stem:<24} N={size:<5} truth {100 * truth:+6.2f}% {label:<12}"
                      + "".join(f" | {d}: decided {c[0]:.3f} wrong {c[1]:.3f} items/decided {c[2]:6.0f}"
                                for d, c in cells.items()), flush=True)
    worst = {d: max(row[5][d][1] for row in rows if d in row[5]) for d in designs
             if any(d in row[5] for row in rows)}  # assisted+earlier only where --earlier names a pair
    print("\nworst wrong-decision rate over all rows: " + ", ".join(f"{d} {w:.3f}" for d, w in worst.items()))
    # Items per decided verdict against the planned design, where both decide (T=5%, the gate's question),
    # for a run's first candidate (only the base's margins to go by) and for the probes that follow one.
    for group, members in (("first candidates", lambda name: name not in earlier),
                           ("probes after a probe", lambda name: name in earlier)):
        for design in designs[1:]:
            ratios = [row[5][design][2] / row[5]["planned"][2] for row in rows
                      if row[4] == "T=5%" and members(row[0]) and design in row[5]
                      and row[5][design][0] > 0.5 and row[5]["planned"][0] > 0.5]
            if ratios:
                print(f"{group}, {design}: items per decided verdict / planned's at T=5% (rows where both decide "
                      f"most runs): median {np.median(ratios):.2f}, range {min(ratios):.2f}-{max(ratios):.2f} "
                      f"over {len(ratios)} rows")
    print("\nthe least items any design can pass a candidate that changes nothing with, at T=5% and one-sided "
          "0.025, if it must hold wherever the changes are (no flip among n items drawn without replacement "
          "when 5% of the base's right answers flipped):")
    for file in sorted((folder / "base").glob("*.json")):
        record = json.loads(file.read_text())
        base = _outcomes(record, record)
        print(f"  {file.stem:<24} N={base.size:<5} base {base.mean():.3f}: {least_items_to_pass(base, 0.05, 0.025)}")


def least_items_to_pass(base, threshold: float, alpha: float) -> int:
    """The smallest n at which seeing no changed item among n drawn without replacement rules out
    ``threshold`` x (the base's right answers) losses at level ``alpha``: below it, no design that keeps
    its error for every placement of the changes can pass even a candidate identical to the base.
    Drawing by weights only moves the worst placement onto the rarely drawn items."""
    import math

    from scipy.stats import hypergeom

    size, losses = len(base), math.ceil(threshold * float(base.sum()))
    return next(n for n in range(1, size + 1) if hypergeom(size, losses, n).pmf(0) <= alpha)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=1000)
    parser.add_argument("--first-look", type=int, default=50)
    parser.add_argument("--max-items", type=int, default=383, help="the first budget (the demo's SciQ sample)")
    parser.add_argument("--extend", type=int, nargs="*", default=[800, 1000],
                        help="budgets a user raises max_items to after undecided results")
    parser.add_argument("--population", type=int, default=1000, help="the benchmark's size N")
    parser.add_argument("--threshold", type=float, default=5.0, help="percent")
    parser.add_argument("--replay", type=Path, metavar="DIR",
                        help="replay over real per-item outcomes recorded by bench/record_replay.py instead")
    parser.add_argument("--earlier", action="append", default=[], metavar="CANDIDATE=EARLIER",
                        help="with --replay: EARLIER is the interpolation probe judged before CANDIDATE "
                             "(repeatable)")
    args = parser.parse_args()
    if args.replay:
        replay(args.replay, args.replications, args.first_look, dict(pair.split("=", 1) for pair in args.earlier))
        return
    threshold, alpha = args.threshold / 100, 0.025
    budgets = [args.max_items, *args.extend]
    print(f"first look {args.first_look}, budget {args.max_items}, then {args.extend}; one-sided {alpha} per "
          f"decision; anytime boundary z at 50/300/1000 items: "
          + ", ".join(f"{sequential.anytime_critical(n, alpha):.2f}" for n in (50, 300, 1000))
          + f"; {args.replications} replications\n")
    designs = [("planned", "pocock", None), ("anytime", "anytime", None),
               (f"anytime, N={args.population}", "anytime", args.population)]
    started = time.perf_counter()
    for title, plan in (("one budget", budgets[:1]), (f"extended to {budgets}", budgets)):
        print(f"{title}:")
        print(f"  {'scenario':<28} {'p_b':>4} {'true':>5} {'disc':>5} | {'design':<18} {'pass':>6} {'fail':>6} "
              f"{'undec':>6} {'wrong':>6} {'items':>6}")
        for label, scenario in SCENARIOS:
            for name, spending, population in designs:
                if population is not None and plan[-1] > population:
                    plan = [min(b, population) for b in plan]
                oc = extension_error(scenario, budgets=plan, first_look=args.first_look, threshold=threshold,
                                     alpha=alpha, spending=spending, population=population,
                                     replications=args.replications, seed=1)
                print(f"  {label:<28} {scenario.p_base:>4.2f} {scenario.forgetting:>5.3f} "
                      f"{scenario.discordance:>5.2f} | {name:<18} {oc['pass']:>6.3f} {oc['fail']:>6.3f} "
                      f"{oc['undecided']:>6.3f} {oc['wrong']:>6.3f} {oc['mean_items']:>6.0f}")
        print()
    looks = sequential.looks_schedule(args.first_look, 800, anytime=True)
    print(f"time-uniform coverage of the anytime {1 - 2 * alpha:.0%} interval over looks {looks}:")
    for scenario in (Scenario(0.6, 0.0, 0.10), Scenario(0.6, 0.05, 0.10), Scenario(0.3, 0.10, 0.20),
                     Scenario(0.8, 0.0, 0.02), Scenario(0.9, 0.05, 0.05)):
        unlimited = sequence_coverage(scenario, looks=looks, replications=args.replications, seed=2)
        finite = sequence_coverage(scenario, looks=looks + [args.population], population=args.population,
                                   replications=args.replications, seed=2)
        print(f"  p_b {scenario.p_base} true {scenario.forgetting} disc {scenario.discordance}: "
              f"unlimited pool {unlimited:.3f}, N={args.population} {finite:.3f}")
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
