"""``harness compare CONFIG``: train each mitigation strategy once and compare them side by side."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from harness.plugins import load_harness


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("compare", help="compare mitigation strategies (local or on a Ray cluster)")
    parser.add_argument("config", help="compare config: a run config (inline or base:) plus strategies:")
    parser.add_argument("--compare-dir", type=Path, help="output folder (default: runs/<config name>-<time>)")
    parser.add_argument("--executor", choices=["local", "ray"], default="local",
                        help="local: one strategy after another (default); ray: one Ray task per strategy")
    parser.add_argument("--resume", action="store_true",
                        help="continue in --compare-dir: skip strategies whose verdict.json exists")
    parser.add_argument("--only", action="append", metavar="STRATEGY", help="run only this strategy (repeatable)")
    parser.add_argument("--validate", action="store_true", help="validate every strategy and exit")
    parser.set_defaults(handler=run)


def print_validated(spec) -> None:
    """One line per validated strategy, and the data files it will need."""
    from harness.resolve.preflight import missing_paths

    for name, config in spec.strategies.items():
        print(f"OK: {name}: trainer {config.trainer.name}, mixer {config.mitigation.mixer.name}, "
              f"shares {config.mitigation.schedule[:config.mitigation.max_rounds]}, lr {config.learning_rate:g}, "
              f"forgetting policy {config.forgetting.policy}")
        for missing in missing_paths(config):
            print(f"  warning: data file not found (needed at run time): {missing}")


def run(args: argparse.Namespace) -> int:
    from functools import partial

    from harness.errors import UsageError
    from harness.strategies.comparison import load_compare, run_comparison

    harness = load_harness(disable=args.disable)
    spec = load_compare(args.config, harness)  # every strategy validated before any model loads
    if args.validate:
        print_validated(spec)
        return 0
    if args.resume and args.compare_dir is None:
        raise UsageError("--resume needs --compare-dir (the comparison to continue)")
    compare_dir = args.compare_dir or Path("runs") / f"{Path(args.config).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    summary = run_comparison(spec, compare_dir, executor=args.executor, resume=args.resume, only=args.only,
                      harness_factory=partial(load_harness, disable=tuple(args.disable)))
    from harness.loop.reporting import render_comparison

    written = render_comparison(harness, compare_dir, summary)
    markdown = [p for p in written if p.suffix == ".md"]
    if markdown:
        print()
        print(markdown[0].read_text(encoding="utf-8"))
    for path in written:
        print(f"report: {path}")
    failed = [s["name"] for s in summary["strategies"] if s["status"] == "failed"]
    if failed:
        print(f"failed strategies (see error.json / traceback.txt in their folders): {', '.join(failed)}")
    # 0: a strategy passes; 1: none does (or some failed), like `harness run`.
    return 0 if summary["recommendation"]["passed"] and not failed else 1
