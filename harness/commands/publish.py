"""``harness publish RUN_DIR --repo ORG/NAME``: upload the chosen weights, their model card and the evidence.

Only a passing verdict is published (exit 1 on fail, 3 on undecided, as ``harness gate``)
unless ``--allow-fail`` / ``--allow-undecided`` says otherwise. ``--to-folder DIR`` writes
exactly what would be uploaded, without the Hub.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("publish", help="publish a run's chosen weights with their model card "
                                                   "(only a passing verdict, unless told otherwise)")
    parser.add_argument("run_dir", type=Path, help="a finished run folder")
    parser.add_argument("--repo", help="the Hub repository, ORG/NAME (also the card's model name)")
    parser.add_argument("--to-folder", type=Path, metavar="DIR", help="write what would be uploaded here instead")
    parser.add_argument("--private", action="store_true", help="create the Hub repository private")
    parser.add_argument("--allow-fail", action="store_true", help="publish even though the verdict is FAIL")
    parser.add_argument("--allow-undecided", action="store_true", help="publish even though the verdict is UNDECIDED")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.publishing import check_verdict, publish, release_files

    if not args.repo and not args.to_folder:
        raise UsageError("say where: --repo ORG/NAME (the Hub) or --to-folder DIR")
    status = check_verdict(args.run_dir, allow_fail=args.allow_fail, allow_undecided=args.allow_undecided)
    repo = args.repo or args.run_dir.resolve().name
    if args.to_folder:
        if args.to_folder.exists() and any(args.to_folder.iterdir()):
            raise UsageError(f"--to-folder {args.to_folder} is not empty; choose a new folder")
        files = release_files(args.run_dir, args.to_folder, repo)
        print(f"wrote {len(files)} files to {args.to_folder} (verdict {status.upper()}): "
              + ", ".join(str(p.relative_to(args.to_folder)) for p in files if p.parent == args.to_folder
                          or p.parent.name == "evaluation"))
        return 0
    print(f"published {args.run_dir} (verdict {status.upper()}) to {publish(args.run_dir, repo, private=args.private, status=status)}")
    return 0
