"""Items and time a verdict takes on a real model: sequential looks vs a fixed sample.

Base model vs the same model with a LoRA adapter (e.g. one round of the demo
config), on the general suite: first the sequential policy (looks at 50, 75, ...
up to --max-items, each benchmark scored only while undecided), then the fixed
design at --fixed-n items per benchmark. No result cache, so both pay for every
item they score; base and candidate models stay in memory for both.

    .venv/bin/python bench/verdict_budget.py --adapter runs/x/rounds/round-1/train/adapter
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def main() -> None:
    from harness.evaluation.judging import JudgeSettings, judge
    from harness.evaluation.scoring import Scorer, instantiate, merge_adapter
    from harness.models.loading import load_model
    from harness.plugins import load_harness

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="smollm2-135m-instruct")
    parser.add_argument("--adapter", required=True)
    parser.add_argument("--suite", default="general-small")
    parser.add_argument("--max-items", type=int, default=800)
    parser.add_argument("--fixed-n", type=int, default=400)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    harness = load_harness()
    benchmarks = instantiate(harness, harness.suite(args.suite).benchmarks)
    base_model = load_model(args.base, dtype=args.dtype, fingerprint=False)
    candidate_model = merge_adapter(base_model, args.adapter)

    rows: dict[str, dict] = {}
    for label, settings in (
        ("sequential", JudgeSettings(policy="sequential", max_items=args.max_items)),
        (f"fixed n={args.fixed_n}", JudgeSettings(policy="strict", limit=args.fixed_n)),
    ):
        base = Scorer(base_model, batch_size=args.batch_size, cache=False)
        candidate = Scorer(candidate_model, batch_size=args.batch_size, cache=False)
        start = time.perf_counter()
        result = judge(base, candidate, benchmarks, [], settings, say=lambda m: print(m, flush=True))
        total = time.perf_counter() - start
        for name, c in result.forgetting.items():
            seconds = base.seconds.get(name, 0.0) + candidate.seconds.get(name, 0.0)
            rows.setdefault(name, {})[label] = (c, seconds)
        rows.setdefault("(all)", {})[label] = (result.verdict, total)
        print(f"{label}: {result.verdict.status} in {total:.0f} s", flush=True)

    labels = list(rows["(all)"])
    print(f"\nbase {args.base} vs + adapter {args.adapter}; {args.dtype}; {settings.method()}")
    print(f"{'benchmark':<26}" + "".join(f" | {label:^44}" for label in labels))
    for name, per in rows.items():
        if name == "(all)":
            continue
        cells = []
        for label in labels:
            c, seconds = per[label]
            cells.append(f"{c.status:<13} n={c.n:<4} {c.relative:+6.1f}% [{c.relative_ci.low:+6.1f},{c.relative_ci.high:+6.1f}] "
                         f"{seconds:5.0f}s")
        print(f"{name:<26}" + "".join(f" | {cell:<44}" for cell in cells))
    print(f"{'total':<26}" + "".join(f" | {rows['(all)'][label][0].status:<13} {rows['(all)'][label][1]:>6.0f} s{'':<22}"
                                     for label in labels))


if __name__ == "__main__":
    main()
