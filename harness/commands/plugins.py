"""``harness plugins``: every plugin, where it comes from, what hooks and components it adds."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from harness.plugins import describe_plugins, load_harness


PLURAL = {"policy": "policies"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plugins", help="list installed plugins and what they register")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    harness = load_harness(disable=args.disable)
    rows = describe_plugins(harness)
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return 0
    for row in rows:
        if row.blocked:
            print(f"{row.name}  (blocked)")
            continue
        print(f"{row.name}  [{row.distribution} {row.version}]".rstrip())
        for kind, names in row.components.items():
            print(f"    {PLURAL.get(kind, kind + 's')}: {', '.join(names)}")
        print(f"    hooks: {', '.join(row.hooks)}")
    return 0
