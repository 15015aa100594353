"""``harness compare-models``: did the candidate forget what the base knew?

Scores base and candidate on the same items, then reports, per general
benchmark, the seed's relative degradation with its CI, the absolute difference,
the exact McNemar p-value and a status: under the default ``sequential`` policy
decided pass / decided fail / undecided (sampling further only where undecided),
and uninformative where the base is at chance. Domain benchmarks are reported as
gain. Below them, where it forgot: items that flipped right -> wrong and the
groups (MMLU subjects, leaf tasks, domain topics) that regressed most, as in a
run's report. Exit code: 0 pass, 1 fail, 3 undecided, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import typing
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.config import Benchmarks, Forgetting
from harness.errors import UsageError
from harness.commands.eval import add_benchmark_arguments, fixed_batch_size, limit_of, selected_benchmarks
from harness.evaluation.breakdown import group_above_threshold, round_breakdown
from harness.evaluation.scoring import ResultCache, Scorer, load_eval_model, merge_adapter
from harness.evaluation.gate import EXIT_CODES, STATUS_LABELS
from harness.evaluation.judging import JudgeSettings, judge
from harness.models.loading import load_model
from harness.plugins import load_harness
from harness.evaluation.stats import POLICIES, Comparison


_FORGETTING, _BENCHMARKS = Forgetting(), Benchmarks()  # the defaults, declared once in the schema


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare-models", help="measure forgetting of a candidate against its base (exit 0 pass, 1 fail, 3 undecided)"
    )
    parser.add_argument("--base", required=True, help="the base model (alias, folder, .gguf or hub id)")
    parser.add_argument("--candidate", help="the fine-tuned model; omit to use --base with --adapter")
    parser.add_argument("--adapter", help="a PEFT LoRA adapter folder applied to the candidate (or the base)")
    parser.add_argument("--threshold", type=float, default=_FORGETTING.threshold,
                        help="max relative degradation in %% (seed: 5)")
    parser.add_argument("--policy", choices=POLICIES, default=_FORGETTING.policy,
                        help="sequential (default): look by look until decided; point: every estimate < threshold; "
                             "strict: every upper 95%% bound < threshold")
    parser.add_argument("--max-items", type=int, default=_BENCHMARKS.max_items,
                        help="sequential: most items per general benchmark (default 800)")
    parser.add_argument("--first-look", type=int, default=_BENCHMARKS.first_look,
                        help="sequential: items at the first look (default 50)")
    parser.add_argument("--spending", choices=_choices(Forgetting, "spending"),
                        default=_FORGETTING.spending, help="sequential: anytime-valid (default), or a planned-looks design "
                                                "valid for --max-items only")
    parser.add_argument("--base-full", action="store_true",
                        help="sequential: score the base on every item and draw the candidate's items where the "
                             "base's margins say flips are likely (pays on benchmarks much larger than --max-items)")
    parser.add_argument("--population", choices=_choices(Forgetting, "population"), default=_FORGETTING.population,
                        help="sequential: the benchmark's own N items (default; all scored is exact), or an "
                             "unlimited pool of items like them")
    parser.add_argument("--relative-to", choices=_choices(Forgetting, "relative_to"), default=_FORGETTING.relative_to,
                        help="relative forgetting as (base - ft) / base, or (base - ft) / (base - chance)")
    parser.add_argument("--bootstrap", type=int, default=_FORGETTING.bootstrap_samples,
                        help="bootstrap resamples for the CIs")
    parser.add_argument("--run-dir", metavar="DIR",
                        help="write a whole run folder there (verdict.json, results.json, report.html, report.md, "
                             "breakdown), as `harness run` does, for `harness gate` and `harness report`")
    add_benchmark_arguments(parser)
    parser.set_defaults(handler=run)


def _pct(value: float) -> str:
    return f"{value:+7.2f}"


def print_comparisons(title: str, comparisons: list[Comparison]) -> None:
    print(title)
    print(f"  {'benchmark':<26} {'n':>5} {'base':>7} {'cand':>7} {'diff (pts)':>10} {'95% CI':<18} "
          f"{'rel %':>7} {'CI':<18} {'p':>9}  status")
    for c in comparisons:
        # Fractions (accuracy) in points; a loss or a log-likelihood on its own scale.
        scale = 100.0 if 0.0 <= c.base <= 1.0 and 0.0 <= c.candidate <= 1.0 else 1.0
        status = STATUS_LABELS.get(c.status, c.status)
        print(f"  {c.benchmark:<26} {c.n:>5} {c.base * scale:>7.2f} {c.candidate * scale:>7.2f} "
              f"{_pct(c.difference * scale):>10} [{c.difference_ci.low * scale:+7.2f}, {c.difference_ci.high * scale:+7.2f}] "
              f"{_pct(c.relative):>7} [{c.relative_ci.low:+7.2f}, {c.relative_ci.high:+7.2f}] {c.p_value:>9.4f}  "
              f"{status}{f' ({c.reason})' if c.reason else ''}")


TOP_GROUPS = 3  # groups printed per benchmark; --json keeps them all


def print_breakdown(breakdown: dict, threshold: float) -> None:
    """Where the candidate forgot, per benchmark: flipped items and the largest group regressions."""
    lines = []
    for name, b in breakdown["benchmarks"].items():
        parts = []
        if b["flips"] is not None:
            parts.append(f"{len(b['flips']['right_to_wrong'])} right -> wrong, {b['flips']['wrong_to_right']} wrong -> right")
        groups = [g for g in b["groups"] if not g["too_few_items"]][:TOP_GROUPS]
        if groups:
            parts.append("largest group regressions: " + ", ".join(
                f"{g['group']} {g['relative']:+.1f}% [{g['relative_ci']['low']:+.1f}, {g['relative_ci']['high']:+.1f}] "
                f"n={g['n']}" + (" (whole CI at or above the threshold)" if group_above_threshold(g, threshold) else "")
                for g in groups))
        if parts:
            lines.append(f"  {name:<26} " + "; ".join(parts))
    if lines:
        print("where it forgot (per-group paired CIs, not adjusted for comparing many groups):")
        print("\n".join(lines))


def _choices(section: type, key: str) -> list[str]:
    return list(typing.get_args(section.model_fields[key].annotation))


def _sections(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The flags as a run config's ``forgetting`` and ``benchmarks`` keys, validated by the same schema
    (a bad value is exit 2, named by its flag)."""
    forgetting = {"threshold": args.threshold, "policy": args.policy, "spending": args.spending,
                  "population": args.population, "relative_to": args.relative_to,
                  "bootstrap_samples": args.bootstrap}
    sampling = {"first_look": args.first_look, "max_items": args.max_items, "limit": limit_of(args),
                "base_full": args.base_full, "seed": args.seed}
    flags = {"bootstrap_samples": "--bootstrap", "limit": "--limit"}
    for section, values in ((Forgetting, forgetting), (Benchmarks, sampling)):
        try:
            section.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(
                f"{flags.get(str(e['loc'][0]), '--' + str(e['loc'][0]).replace('_', '-')) if e['loc'] else 'flags'}: "
                f"{e['msg']}" for e in error.errors())
            raise UsageError(problems) from None
    return forgetting, sampling


def run(args: argparse.Namespace) -> int:
    if args.candidate is None and args.adapter is None:
        raise UsageError("give --candidate MODEL, or --adapter FOLDER to compare base+adapter with the base")
    if args.adapter and not (Path(args.adapter) / "adapter_config.json").is_file():
        raise UsageError(f"--adapter {args.adapter}: no adapter_config.json there")
    forgetting, sampling = _sections(args)  # the flags checked by the config schema, as a run's keys are
    harness = load_harness(disable=args.disable)
    benchmarks = selected_benchmarks(harness, args, load_documents=not args.run_dir)
    if args.run_dir:
        return _judge_into_run_folder(args, harness, benchmarks)
    cache = False if args.no_cache else ResultCache()
    settings = JudgeSettings.of(Forgetting.model_validate(forgetting), Benchmarks.model_validate(sampling))

    base_model = load_model(args.base, device=args.device, dtype=args.dtype, fingerprint=False)
    if args.candidate is None:
        candidate_model = merge_adapter(base_model, args.adapter)  # a merged copy; the base is untouched
    else:
        # Two models in memory: the sequential verdict extends both samples look by look.
        candidate_model = load_eval_model(args.candidate, adapter=args.adapter, device=args.device, dtype=args.dtype)
    base = Scorer(base_model, batch_size=fixed_batch_size(args), cache=cache)
    candidate = Scorer(candidate_model, batch_size=fixed_batch_size(args), cache=cache)
    general = [b for b in benchmarks if b.role != "domain"]
    domain = [b for b in benchmarks if b.role == "domain"]
    judgement = judge(base, candidate, general, domain, settings, say=print)
    verdict = judgement.verdict

    print(f"base {args.base}  vs  candidate {args.candidate or args.base}"
          + (f" + adapter {args.adapter}" if args.adapter else "") + f"  (seed {args.seed})")
    print(f"method: {settings.method()}")
    if judgement.forgetting:
        print_comparisons("forgetting (positive = candidate worse):", list(judgement.forgetting.values()))
    if judgement.gain:
        print_comparisons("domain (negative = candidate better):", list(judgement.gain.values()))
    # A description beside the verdict, never part of it (see harness.evaluation.breakdown).
    breakdown = round_breakdown([*general, *domain], judgement.base, judgement.candidate,
                                confidence=settings.confidence, samples=settings.bootstrap_samples, seed=settings.seed)
    print_breakdown(breakdown, args.threshold)
    print(f"verdict: {verdict.status.upper()} (policy {args.policy}, threshold {args.threshold:g}% relative degradation)")
    for reason in verdict.reasons:
        print(f"  {reason}")
    if args.json:
        payload = {"base": args.base, "candidate": args.candidate, "adapter": args.adapter,
                   "judging": settings.as_dict(),
                   "forgetting": [c.as_dict() for c in judgement.forgetting.values()],
                   "domain": [c.as_dict() for c in judgement.gain.values()],
                   "verdict": verdict.as_dict(), "breakdown": breakdown}
        Path(args.json).write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return EXIT_CODES[verdict.status]


def _judge_into_run_folder(args: argparse.Namespace, harness, benchmarks) -> int:
    """The judgement as a one-round run of the loop with weights trained elsewhere (trainer ``external``).

    Every file a ``harness run`` writes comes from the same code, so the gate, the
    report command and every reporter read this folder as they read a run.
    """
    import tempfile

    import yaml

    from harness.commands.run import finish
    from harness.loop import rounds as loop

    if args.candidate and args.adapter:
        raise UsageError("--run-dir judges one set of weights: --candidate MODEL, or --adapter FOLDER (an adapter "
                         "of --base), not both")
    forgetting, sampling = _sections(args)
    if args.no_cache:
        raise UsageError("--no-cache does not apply with --run-dir: the run folder keeps every outcome it used")

    def spec(model: str) -> str:  # a local path stays valid wherever the config is read from
        return str(Path(model).resolve()) if Path(model).exists() else model

    def ref(benchmark) -> dict:
        return {"name": type(benchmark).name, **benchmark.options.model_dump(exclude_defaults=True)}

    config = {
        "base_model": spec(args.base), "device": args.device, "dtype": args.dtype,
        "trainer": {"name": "external", "weights": spec(args.candidate or args.adapter)},
        "benchmarks": {"suite": None, "general": [ref(b) for b in benchmarks if b.role != "domain"],
                       "domain": [ref(b) for b in benchmarks if b.role == "domain"],
                       "batch_size": fixed_batch_size(args), **sampling},
        "forgetting": forgetting,
    }
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "judge.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        verdict = loop.run(path, harness, Path(args.run_dir))
    return finish(harness, Path(args.run_dir), verdict)
