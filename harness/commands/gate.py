"""``harness gate VERDICT_OR_RUN_DIR``: exit 0 pass, 1 fail, 3 undecided, 2 bad input; Markdown on stdout."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import UsageError
from harness.evaluation.gate import EXIT_CODES, verdict_status, markdown_summary, read_verdict
from harness.evaluation.stats import POLICIES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gate", help="gate a release on a run's forgetting verdict (exit 0 pass, 1 fail, 3 undecided, 2 bad input)")
    parser.add_argument("verdict", type=Path, help="a run folder or its verdict.json")
    parser.add_argument("--max-forgetting", type=float, help="threshold in percent (default: the run's)")
    parser.add_argument("--policy", choices=POLICIES, help="default: the run's policy (sequential unless set)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    verdict = read_verdict(args.verdict)
    if args.max_forgetting is not None and args.max_forgetting <= 0:
        raise UsageError(f"--max-forgetting must be above 0 (got {args.max_forgetting:g})")
    print(markdown_summary(verdict, args.max_forgetting, args.policy))
    status, _ = verdict_status(verdict, args.max_forgetting, args.policy)
    return EXIT_CODES[status]
