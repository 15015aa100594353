"""One module per ``harness`` sub-command, each exposing ``register(subparsers)``."""

from __future__ import annotations

import argparse


def add_set_flag(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable): change one config key for this command, as Axolotl's CLI does."""
    parser.add_argument("--set", action="append", dest="overrides", metavar="KEY=VALUE", default=[],
                        help="change a config key for this run (dotted for sections: forgetting.threshold=3); "
                             "with strict: true in the file, only keys it sets")
