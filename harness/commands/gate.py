"""``harness gate VERDICT_OR_RUN_DIR``: exit 0 pass, 1 fail, 2 bad input; Markdown on stdout."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.gate import judge, markdown_summary, read_verdict


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("gate", help="gate a release on a run's forgetting verdict (exit 0/1/2)")
    parser.add_argument("verdict", type=Path, help="a run folder or its verdict.json")
    parser.add_argument("--max-forgetting", type=float, help="threshold in percent (default: the run's)")
    parser.add_argument("--policy", choices=["point", "strict"], help="default: the run's policy")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    verdict = read_verdict(args.verdict)
    print(markdown_summary(verdict, args.max_forgetting, args.policy))
    passed, _ = judge(verdict, args.max_forgetting, args.policy)
    return 0 if passed else 1
