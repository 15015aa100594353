"""The ``harness`` command line: a thin dispatcher over ``harness.commands``.

Each command lives in its own module exposing ``register(subparsers)``; the
module's handler returns an exit code. A :class:`UsageError` anywhere (bad
config, missing file, unknown component) prints one clear message and exits 2,
before any model is loaded.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings

from harness import __version__
from harness.errors import UsageError
from harness.cpu_threads import import_torch_with_spinning_threads

# Commands that run a model, whose torch threads spin between operators on a CPU (cpu_threads.py).
COMPUTING_COMMANDS = {"run", "demo", "eval", "compare-models", "compare", "train", "merge", "export-gguf", "generate",
                      "chat", "lr-find"}

# Module names under harness.commands, in the order --help lists them.
COMMANDS = [
    "plugins",
    "validate",
    "data",
    "run",
    "gate",
    "report",
    "publish",
    "demo",
    "eval",
    "compare_models",
    "compare",
    "train",
    "merge",
    "export_gguf",
    "generate",
    "lr_find",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Fine-tune LLMs on domain data and prove they did not forget what they knew.",
    )
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    parser.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="PLUGIN",
        help="block a plugin by name (repeatable; also HARNESS_DISABLE_PLUGINS=a,b)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"harness.commands.{name}").register(subparsers)
    from harness.commands.help_text import epilog

    for name, command in subparsers.choices.items():
        command.epilog = epilog(name)
        command.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the epilog's lines
    return parser


def main(argv: list[str] | None = None) -> int:
    # Offline by default when the hub is unreachable is the user's call; we never
    # phone home for telemetry.
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    # transformers 5 warns on its own internal reads of a renamed attribute; nothing for a user to do.
    warnings.filterwarnings("ignore", message=r".*gradient_checkpointing.* is deprecated", category=FutureWarning)
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    if args.command in COMPUTING_COMMANDS:
        import_torch_with_spinning_threads()
    try:
        return int(args.handler(args) or 0)
    except UsageError as error:
        print(f"harness {args.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
