"""``harness validate CONFIG``: check a run or compare config without loading any model or data."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands import add_set_flag
from harness.resolve import resolve_file
from harness.resolve.preflight import hub_names, missing_paths
from harness.plugins import load_harness


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("validate", help="validate a run or compare config (exit 2 if invalid)")
    parser.add_argument("config", help="path to a YAML run config, or a compare config (with strategies:)")
    parser.add_argument("--gpu-memory", type=float, metavar="GB",
                        help="plan for GPUs of this much memory each (a card's label: 24, 40, 80; read as GiB); "
                             "default: the GPUs here, else this machine's RAM")
    parser.add_argument("--gpus", type=int, metavar="N", help="plan for N GPUs (default: the GPUs here, or 1)")
    add_set_flag(parser)
    parser.set_defaults(handler=run)


def _is_compare_config(path: str) -> bool:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False  # load_config reports it properly
    return isinstance(data, dict) and "strategies" in data


def measured(benchmark) -> str:
    """``bbh (exact_match after get-answer)``: what a benchmark will compare, where it says."""
    metric, chosen = getattr(benchmark, "metric", None), getattr(benchmark, "filter", None)
    if not isinstance(metric, str):
        return benchmark.name
    after = f" after {chosen}" if isinstance(chosen, str) and chosen != "none" else ""
    return f"{benchmark.name} ({metric}{after})"


def run(args: argparse.Namespace) -> int:
    harness = load_harness(disable=args.disable)
    if _is_compare_config(args.config):
        from harness.commands.compare import print_validated
        from harness.strategies.comparison import load_compare

        print_validated(load_compare(args.config, harness))
        return 0
    # Everything a run resolves before it loads a model: duplicate benchmarks, bad metrics, a trainer
    # that cannot run here.
    resolved = resolve_file(args.config, harness, args.overrides)
    config, components = resolved.config, resolved.components
    print(f"OK: {args.config}")
    print(f"  base model : {config.base_model}")
    trainer = config.trainer
    print(f"  trainer    : {trainer.name} ({harness.catalogs['trainer'].owners[harness.trainer(trainer.name).name]})")
    bench = config.benchmarks
    general = [measured(b) for b in components.general]
    print(f"  general    : {', '.join(general) or '(none)'}"
          + (f"  [suite {bench.suite}]" if bench.suite and not bench.general else ""))
    print(f"  domain     : {', '.join(measured(b) for b in components.domain) or '(none)'}")
    print(f"  mixer      : {config.mitigation.mixer.name}, shares {config.mitigation.schedule}")
    print(f"  policy     : {config.mitigation.policy.name}")
    forgetting = config.forgetting
    print(f"  forgetting : > {forgetting.threshold}% relative fails ({forgetting.policy} policy"
          + (f", {forgetting.spending} spending, population {forgetting.population}, looks from "
             f"{bench.first_look} items, budget {bench.max_items})"
             if forgetting.policy == "sequential" else f", {bench.limit or 'all'} items)"))
    for note in resolved.notes:
        print(f"  note: {note}")
    for note in resolved.warnings:
        print(f"  warning: {note}")
    from harness.hardware import gpu_only_problems

    for problem in gpu_only_problems(config):
        print(f"  warning: a run on this machine would stop at its start: {problem}")
    from harness.models.loading import hub_offline

    offline = hub_offline()
    for name in hub_names(config):
        print(f"  warning: {name} is on the Hugging Face Hub: read when the run starts"
              + (" (HF_HUB_OFFLINE is set here: that run would stop before any weights load)" if offline else ""))
    for path in missing_paths(config):
        print(f"  warning: data file not found (needed at run time): {path}")
    return _memory_plan(config, args)


def _memory_plan(config, args: argparse.Namespace) -> int:
    """Print the plan; a plan for the GPUs the user named that cannot fit is an error (exit 2)."""
    from harness.errors import UsageError
    from harness.memory.report import plan_config
    from harness.memory.target import planned_target

    if args.gpus is not None and args.gpus < 1 or args.gpu_memory is not None and args.gpu_memory <= 0:
        raise UsageError("--gpus and --gpu-memory must be positive")
    target, named = planned_target(args.gpu_memory, args.gpus)
    report = plan_config(config, target)
    for line in report.lines:
        print(f"  {line}")
    if report.fits:
        return 0
    if named:
        raise UsageError(f"{args.config}: does not fit: {report.problem}")
    # Like a GPU-only setting here: a warning at validation, a stop when a run starts on this machine.
    print(f"  warning: a run on this machine would stop at its start: {report.problem}")
    return 0
