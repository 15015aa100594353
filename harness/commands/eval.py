"""``harness eval``: score one model (optionally with a LoRA adapter) on a suite, with CIs."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from harness.api import Benchmark, BenchmarkResult, UsageError
from harness.evaluation.scoring import ResultCache, evaluate, instantiate, load_eval_model
from harness.plugins import Harness, load_harness
from harness.evaluation.stats import mean_interval


def add_benchmark_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark-selection and sampling flags shared by ``eval`` and ``compare-models``."""
    parser.add_argument("--suite", help="a registered suite (see `harness plugins`), e.g. general-small")
    parser.add_argument("--benchmark", action="append", default=[], metavar="NAME",
                        help="a benchmark by name (repeatable; instead of or besides --suite)")
    parser.add_argument("--task", action="append", default=[], metavar="NAME",
                        help="any lm-eval task or group, as lm-eval's CLI takes it (repeatable)")
    parser.add_argument("--include-path", metavar="DIR", help="a folder of extra lm-eval task YAMLs (for --task)")
    parser.add_argument("--num-fewshot", type=int, metavar="N", help="few-shot examples for --task (lm-eval's flag)")
    parser.add_argument("--limit", type=int, default=200, help="items per benchmark, sampled with --seed (0 = all)")
    parser.add_argument("--seed", type=int, default=1234, help="item sampling seed (same seed, same items)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    parser.add_argument("--no-cache", action="store_true", help="score again even if cached results exist")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")


def selected_benchmarks(harness: Harness, args: argparse.Namespace) -> list[Benchmark]:
    """The benchmarks named by --suite, --benchmark and --task, validated before any model loads."""
    names = list(harness.suite(args.suite).benchmarks) if args.suite else []
    names += [n for n in args.benchmark if n not in names]
    tasks = list(dict.fromkeys(getattr(args, "task", [])))
    if not names and not tasks:
        raise UsageError("name what to evaluate: --suite NAME, --benchmark NAME or --task NAME")
    if args.limit < 0 or args.batch_size < 1:
        raise UsageError("--limit must be >= 0 and --batch-size >= 1")
    if (args.include_path or args.num_fewshot is not None) and not tasks:
        raise UsageError("--include-path and --num-fewshot apply to --task (lm-eval tasks)")
    if args.include_path and not Path(args.include_path).is_dir():
        raise UsageError(f"--include-path {args.include_path}: not a folder")
    benchmarks = instantiate(harness, names)
    generic = harness.benchmark("lm_eval")
    for task in tasks:
        options = {"task": task, "include_path": args.include_path, "num_fewshot": args.num_fewshot}
        (benchmark,) = instantiate(harness, [generic.name], {generic.name: options})
        benchmark.item_ids()  # an unknown task or missing data fails here, before any model loads
        benchmarks.append(benchmark)
    return benchmarks


def limit_of(args: argparse.Namespace) -> int | None:
    return args.limit or None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval", help="score a model on a benchmark suite, with 95%% CIs")
    parser.add_argument("--model", required=True, help="alias, folder, .gguf file or hub id")
    parser.add_argument("--adapter", help="a PEFT LoRA adapter folder, merged in memory for scoring")
    add_benchmark_arguments(parser)
    parser.set_defaults(handler=run)


def format_row(result: BenchmarkResult, seed: int) -> str:
    scale = 100.0 if result.metric != "loss" else 1.0
    ci = mean_interval([i.score for i in result.items], seed=seed)
    cached = " (cached)" if result.extra.get("cached") else ""
    return (f"{result.benchmark:<28} {result.metric:<9} {result.n:>5} {result.score * scale:>7.2f} "
            f"[{ci.low * scale:6.2f}, {ci.high * scale:6.2f}] {result.seconds:>7.1f}s{cached}")


def result_json(result: BenchmarkResult) -> dict:
    ci = mean_interval([i.score for i in result.items])
    return {"benchmark": result.benchmark, "metric": result.metric, "n": result.n, "score": result.score,
            "ci95": [ci.low, ci.high], "seconds": result.seconds,
            "items": {i.item_id: i.score for i in result.items},
            "extra": {k: v for k, v in result.extra.items() if isinstance(v, (str, int, float, bool))}}


def run(args: argparse.Namespace) -> int:
    harness = load_harness(disable=args.disable)
    benchmarks = selected_benchmarks(harness, args)
    start = time.perf_counter()
    model = load_eval_model(args.model, adapter=args.adapter, device=args.device, dtype=args.dtype)
    loaded = time.perf_counter()
    results = evaluate(model, benchmarks, limit=limit_of(args), seed=args.seed, batch_size=args.batch_size,
                       cache=False if args.no_cache else ResultCache())
    done = time.perf_counter()
    print(f"model {model.name}  weights {model.fingerprint[:12]}  {model.dtype} on {model.device}  "
          f"seed {args.seed}  batch {args.batch_size}")
    print(f"{'benchmark':<28} {'metric':<9} {'n':>5} {'score':>7} {'95% CI':<16} {'time':>8}")
    for result in results.values():
        print(format_row(result, args.seed))
    print(f"load {loaded - start:.1f}s, evaluate {done - loaded:.1f}s")
    if args.json:
        payload = {"model": model.name, "adapter": args.adapter, "weights": model.fingerprint,
                   "seed": args.seed, "limit": limit_of(args),
                   "results": [result_json(r) for r in results.values()]}
        Path(args.json).write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0
