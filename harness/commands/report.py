"""``harness report RUN_DIR``: re-render a run's reports from what is saved (no recomputation)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import UsageError
from harness.plugins import load_harness


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help="render a run folder's HTML, Markdown and JSON reports")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--format", action="append", dest="formats", metavar="NAME",
                        help="only this renderer (repeatable; default: every registered one)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.loop.reporting import render_reports

    if not (args.run_dir / "verdict.json").is_file():
        raise UsageError(f"{args.run_dir}: no verdict.json; is it a finished run folder?")
    for path in render_reports(load_harness(disable=args.disable), args.run_dir, args.formats):
        print(path)
    return 0
