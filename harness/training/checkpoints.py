"""Checkpoints that are either complete or absent, and finding the last complete one.

A checkpoint is written into a hidden staging folder and renamed into place only
after every file (weights, optimizer, scheduler, RNG, trainer state) is on disk,
followed by a ``COMPLETE`` marker. A crash mid-save leaves only the staging
folder, which resume ignores and the next run clears.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

MARKER = "COMPLETE"
STAGING = ".staging"
_NAME = re.compile(r"^checkpoint-(\d+)$")


def is_complete(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def complete_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints under ``root``, oldest step first."""
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _NAME.match(p.name)) and is_complete(p)]
    return [p for _, p in sorted(found)]


def last_complete_checkpoint(root: Path) -> Path | None:
    """The newest checkpoint whose save finished, or ``None``."""
    found = complete_checkpoints(root)
    return found[-1] if found else None


def checkpoint_step(folder: Path) -> int:
    match = _NAME.match(folder.name)
    if not match:
        raise ValueError(f"{folder} is not a checkpoint folder")
    return int(match.group(1))


def clear_incomplete(root: Path) -> list[Path]:
    """Remove staging leftovers and checkpoint folders without a marker; return what went."""
    removed = []
    if not root.is_dir():
        return removed
    for path in root.iterdir():
        if path.name == STAGING or (_NAME.match(path.name) and not is_complete(path)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def publish(staged: Path, target: Path) -> Path:
    """Mark a fully written staged folder complete and move it to ``target`` in one rename."""
    (staged / MARKER).write_text("ok\n")
    _fsync_tree(staged)
    if target.exists():
        shutil.rmtree(target)
    os.replace(staged, target)
    return target


def _fsync_tree(folder: Path) -> None:
    # Data must be durable before the rename makes the folder look complete.
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
