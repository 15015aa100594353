"""``harness eval``: score one model (optionally with a LoRA adapter) on a suite, with CIs."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from harness.components import Benchmark
from harness.config import Benchmarks
from harness.errors import UsageError
from harness.records import BenchmarkResult
from harness.evaluation.scoring import ResultCache, evaluate, instantiate, load_eval_model, options_taken
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
    # lm-eval's evaluation conventions, with its CLI's meanings and defaults; they apply to
    # --task and to every lm-eval benchmark of --suite / --benchmark that takes them.
    parser.add_argument("--metric", metavar="NAME", help="the per-item metric, as the task logs it "
                        "(default: the task's own convention, e.g. exact_match for BBH)")
    parser.add_argument("--filter", metavar="NAME", help="lm-eval filter whose output is scored "
                        "(e.g. strict-match, flexible-extract; default: the task's first)")
    parser.add_argument("--apply-chat-template", nargs="?", const=True, default=None, metavar="TEMPLATE",
                        help="pose prompts through the tokenizer's chat template (or the named one)")
    parser.add_argument("--fewshot-as-multiturn", nargs="?", const=True, default=None,
                        type=lambda value: value.lower() in ("true", "1", "yes"), metavar="BOOL",
                        help="few-shot examples as turns of the conversation (default: on with the chat template)")
    parser.add_argument("--system-instruction", metavar="TEXT", help="a system instruction before every prompt")
    parser.add_argument("--limit", type=int, default=Benchmarks().limit, help="items per benchmark, sampled with --seed (0 = all)")
    parser.add_argument("--seed", type=int, default=Benchmarks().seed, help="item sampling seed (same seed, same items)")
    parser.add_argument("--batch-size", type=_batch_size, default=8, help="items per batch, or auto (lm-eval's)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    parser.add_argument("--no-cache", action="store_true", help="score again even if cached results exist")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")


def _batch_size(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        size = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number or auto") from None
    if size < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return size


# Flags named as the lm-eval benchmarks' options of the same meaning.
_CONVENTIONS = ("metric", "filter", "apply_chat_template", "fewshot_as_multiturn", "system_instruction")


def selected_benchmarks(harness: Harness, args: argparse.Namespace, *, load_documents: bool = True) -> list[Benchmark]:
    """The benchmarks named by --suite, --benchmark and --task, checked before any model loads.

    ``load_documents`` also reads each lm-eval task's documents now, so data out of reach fails
    here; a caller that hands the benchmarks to the loop leaves that to it (it reads them once).
    """
    names = list(harness.suite(args.suite).benchmarks) if args.suite else []
    names += [n for n in args.benchmark if n not in names]
    tasks = list(dict.fromkeys(getattr(args, "task", [])))
    if not names and not tasks:
        raise UsageError("name what to evaluate: --suite NAME, --benchmark NAME or --task NAME")
    if args.limit < 0:
        raise UsageError("--limit must be >= 0")
    if (args.include_path or args.num_fewshot is not None) and not tasks:
        raise UsageError("--include-path and --num-fewshot apply to --task (lm-eval tasks)")
    if args.include_path and not Path(args.include_path).is_dir():
        raise UsageError(f"--include-path {args.include_path}: not a folder")
    conventions = {option: getattr(args, option) for option in _CONVENTIONS if getattr(args, option, None) is not None}
    if isinstance(args.batch_size, str):
        conventions["batch_size"] = args.batch_size
    benchmarks = []
    for name in names:
        benchmarks += instantiate(harness, [name], {name: options_taken(harness.benchmark(name), conventions)})
    generic = harness.benchmark("lm_eval")
    for task in tasks:
        options = {"task": task, "include_path": args.include_path, "num_fewshot": args.num_fewshot, **conventions}
        benchmarks += instantiate(harness, [generic.name], {generic.name: options})
    refused = [f"{flag} applies to lm-eval benchmarks; none of these takes it" for flag in conventions
               if not any(flag in type(b.options).model_fields for b in benchmarks)]
    problems = refused + [f"{b.name}: {p}" for b in benchmarks for p in b.configuration_problems()]
    if problems:
        raise UsageError("\n".join(problems))
    for benchmark in benchmarks if load_documents else []:
        if hasattr(benchmark, "task"):
            benchmark.item_ids()  # documents that cannot be reached fail here, before any model loads
    return benchmarks


def fixed_batch_size(args: argparse.Namespace) -> int:
    """The batch size of benchmarks that do not size their own (lm-eval's take ``auto`` as an option)."""
    return 8 if isinstance(args.batch_size, str) else args.batch_size


def limit_of(args: argparse.Namespace) -> int | None:
    return args.limit or None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval", help="score a model on a benchmark suite, with 95%% CIs")
    parser.add_argument("--model", required=True, help="alias, folder, .gguf file or hub id")
    parser.add_argument("--adapter", help="a PEFT LoRA adapter folder, merged in memory for scoring")
    add_benchmark_arguments(parser)
    parser.set_defaults(handler=run)


def format_row(result: BenchmarkResult, seed: int) -> str:
    # Fractions (accuracy, exact match) print as percentages; a loss or a log-likelihood as it is.
    scale = 100.0 if all(0.0 <= i.score <= 1.0 for i in result.items) else 1.0
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
    results = evaluate(model, benchmarks, limit=limit_of(args), seed=args.seed, batch_size=fixed_batch_size(args),
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
