"""``harness compare-models``: did the candidate forget what the base knew?

Scores base and candidate on the same sampled items, then reports, per general
benchmark, the seed's relative degradation and the absolute difference, each
with a paired bootstrap 95% CI, the exact McNemar p-value, and a suite verdict.
Domain benchmarks are reported as gain. Exit code: 0 pass, 1 fail, 2 bad input.
"""

from __future__ import annotations

import argparse
import gc
import json
from pathlib import Path

from harness.api import UsageError
from harness.commands.eval import add_benchmark_arguments, limit_of, selected_benchmarks
from harness.evaluation import ResultCache, evaluate, load_eval_model, merge_adapter
from harness.models import load_model
from harness.plugins import load_harness
from harness.stats import Comparison, compare, forgetting_verdict, gain_verdict


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare-models", help="measure forgetting of a candidate against its base (exit 0 pass, 1 fail)"
    )
    parser.add_argument("--base", required=True, help="the base model (alias, folder, .gguf or hub id)")
    parser.add_argument("--candidate", help="the fine-tuned model; omit to use --base with --adapter")
    parser.add_argument("--adapter", help="a PEFT LoRA adapter folder applied to the candidate (or the base)")
    parser.add_argument("--threshold", type=float, default=5.0, help="max relative degradation in %% (seed: 5)")
    parser.add_argument("--policy", choices=["point", "strict"], default="point",
                        help="point: every estimate < threshold; strict: every upper 95%% bound < threshold")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples for the CIs")
    add_benchmark_arguments(parser)
    parser.set_defaults(handler=run)


def _pct(value: float) -> str:
    return f"{value:+7.2f}"


def print_comparisons(title: str, comparisons: list[Comparison]) -> None:
    print(title)
    print(f"  {'benchmark':<26} {'n':>5} {'base':>7} {'cand':>7} {'diff (pts)':>10} {'95% CI':<18} "
          f"{'rel %':>7} {'95% CI':<18} {'McNemar p':>9}")
    for c in comparisons:
        scale = 1.0 if c.metric == "loss" else 100.0
        print(f"  {c.benchmark:<26} {c.n:>5} {c.base * scale:>7.2f} {c.candidate * scale:>7.2f} "
              f"{_pct(c.difference * scale):>10} [{c.difference_ci.low * scale:+7.2f}, {c.difference_ci.high * scale:+7.2f}] "
              f"{_pct(c.relative):>7} [{c.relative_ci.low:+7.2f}, {c.relative_ci.high:+7.2f}] {c.p_value:>9.4f}")


def run(args: argparse.Namespace) -> int:
    if args.candidate is None and args.adapter is None:
        raise UsageError("give --candidate MODEL, or --adapter FOLDER to compare base+adapter with the base")
    if args.threshold <= 0 or args.bootstrap < 100:
        raise UsageError("--threshold must be > 0 and --bootstrap >= 100")
    if args.adapter and not (Path(args.adapter) / "adapter_config.json").is_file():
        raise UsageError(f"--adapter {args.adapter}: no adapter_config.json there")
    harness = load_harness(disable=args.disable)
    benchmarks = selected_benchmarks(harness, args)
    cache = False if args.no_cache else ResultCache()
    settings = dict(limit=limit_of(args), seed=args.seed, batch_size=args.batch_size, cache=cache)

    base = load_model(args.base, device=args.device, dtype=args.dtype, fingerprint=False)
    base_results = evaluate(base, benchmarks, **settings)
    if args.candidate is None:
        candidate = merge_adapter(base, args.adapter)  # a merged copy; the base is untouched
    else:
        del base
        gc.collect()  # one model in memory at a time
        candidate = load_eval_model(args.candidate, adapter=args.adapter, device=args.device, dtype=args.dtype)
    cand_results = evaluate(candidate, benchmarks, **settings)

    general, domain = [], []
    for benchmark in benchmarks:
        b, c = base_results[benchmark.name], cand_results[benchmark.name]
        comparison = compare(b, c, higher_is_better=b.extra.get("higher_is_better", True),
                             samples=args.bootstrap, seed=args.seed)
        (domain if benchmark.role == "domain" else general).append(comparison)

    print(f"base {args.base}  vs  candidate {args.candidate or args.base}"
          + (f" + adapter {args.adapter}" if args.adapter else "")
          + f"  (seed {args.seed}, limit {limit_of(args) or 'all'})")
    verdict = forgetting_verdict(general, threshold=args.threshold, policy=args.policy)
    if general:
        print_comparisons("forgetting (positive = candidate worse):", general)
    if domain:
        print_comparisons("domain (negative = candidate better):", domain)
        gains = gain_verdict(domain, policy=args.policy)
        print(f"domain gain: {'yes' if gains.passed else 'no'}" + "".join(f"\n  {r}" for r in gains.reasons))
    status = "PASS" if verdict.passed else "FAIL"
    print(f"verdict: {status} (policy {args.policy}, threshold {args.threshold:g}% relative degradation)")
    for reason in verdict.reasons:
        print(f"  {reason}")
    if args.json:
        payload = {"base": args.base, "candidate": args.candidate, "adapter": args.adapter,
                   "forgetting": [c.as_dict() for c in general], "domain": [c.as_dict() for c in domain],
                   "verdict": verdict.as_dict()}
        Path(args.json).write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0 if verdict.passed else 1
