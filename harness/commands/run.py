"""``harness run CONFIG``: the whole train -> evaluate -> decide loop, resumable."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from harness.commands import add_set_flag
from harness.plugins import load_harness


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run the train -> evaluate -> retrain loop")
    parser.add_argument("config", nargs="?", help="YAML run config (omit with --resume)")
    parser.add_argument("--run-dir", type=Path, help="run folder (default: runs/<config name>-<time>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a run after a crash or kill")
    parser.add_argument("--no-report", action="store_true", help="skip rendering reports at the end")
    add_set_flag(parser)
    parser.set_defaults(handler=run)


from harness.evaluation.gate import EXIT_CODES


def default_run_dir(config: str) -> Path:
    return Path("runs") / f"{Path(config).stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def run(args: argparse.Namespace) -> int:
    from harness import distributed
    from harness.loop import ranks

    with distributed.session():
        harness = load_harness(disable=args.disable)
        if not distributed.is_main():
            return ranks.follow(harness)  # train when rank 0 says so; rank 0 does everything else
        try:
            return _run(args, harness)
        finally:
            ranks.release()


def _run(args: argparse.Namespace, harness) -> int:
    from harness.loop import rounds as loop

    # The folder's name carries a timestamp: choose it once, on rank 0, the only writer.
    run_dir = args.resume or args.run_dir or default_run_dir(args.config or "run")
    verdict = loop.run(args.config, harness, run_dir, resume=args.resume is not None, overrides=args.overrides)
    code = finish(harness, run_dir, verdict, render=not args.no_report)
    publish_if_asked(run_dir)
    return code


def publish_if_asked(run_dir: Path) -> None:
    """Axolotl's hub_model_id: push a passing run there; never fails the run (its verdict stands)."""
    import yaml

    from harness.errors import UsageError
    from harness.loop.rundir import RunFolder

    config = yaml.safe_load(RunFolder(run_dir).config.read_text(encoding="utf-8")) or {}
    repo = config.get("hub_model_id")
    if not repo:
        return
    from harness.publishing import check_verdict, publish

    try:
        status = check_verdict(run_dir)
        print(f"hub_model_id: published to {publish(run_dir, repo, status=status)}")
    except UsageError as error:
        print(f"hub_model_id: {error}")


def finish(harness, run_dir: Path, verdict: dict, render: bool = True) -> int:
    """Print the verdict table and render reports; exit 0 on pass, 1 on fail, 3 undecided."""
    from harness.evaluation.gate import markdown_summary
    from harness.run_record import validate_verdict

    print()
    print(markdown_summary(validate_verdict(verdict, str(run_dir / "verdict.json"))))
    if render:
        from harness.loop.reporting import render_reports

        for path in render_reports(harness, run_dir):
            print(f"report: {path}")
    from harness.loop.tracking import send

    for name in send(harness, run_dir):  # the config's trackers: a failing one is a warning
        print(f"tracker: {name} has the run")
    stages = verdict.get("timings") or {}
    if stages:
        print("time per stage: " + " · ".join(f"{stage} {seconds:.0f} s" for stage, seconds in stages.items()))
    print(f"run folder: {run_dir}  ({verdict['seconds']:.0f} s)")
    return EXIT_CODES[verdict.get("status") or ("pass" if verdict["passed"] else "fail")]
