"""A run folder as plain data, so a Ray task on another node can hand it to the driver.

A task never writes to the driver's compare folder (on a cluster it need not be
on a disk the node sees): it works in a scratch folder on its node, then
:func:`pack` returns the folder's files as ``{relative path: bytes}``. The
driver :func:`unpack`\\ s them into ``COMPARE_DIR/...`` and renames the folder
into place, so a reader sees the old folder or the new one, never half of one.

What comes back: every record (JSON, YAML, Markdown, HTML, text, logs; what
the summary and the reports read) whatever its size, and every other file
(weights, tokenizers' binaries, optimizer states) up to ``max_bytes``. Larger
files stay in the node's scratch folder and are listed, with the node, in the
folder's ``node.json`` (:attr:`RunFolder.node`). Paths the task wrote into its records (its scratch
folder) are rewritten to the driver's folder.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

from harness.loop.rundir import RunFolder, write_json

# Records: what summaries and reports read. They always come back, whatever their size.
RECORD_SUFFIXES = frozenset({".json", ".jsonl", ".yml", ".yaml", ".md", ".html", ".txt", ".log", ".csv", ".svg"})
# Text files where the task's scratch path may appear (records plus small text assets).
TEXT_SUFFIXES = RECORD_SUFFIXES | {".jinja"}


def is_record(path: PurePosixPath) -> bool:
    return path.suffix.lower() in RECORD_SUFFIXES or not path.suffix  # COMPLETE markers have no suffix


def pack(folder: Path, *, max_bytes: int) -> dict[str, Any]:
    """``folder``'s files: ``files`` (relative path -> bytes) and ``left_on_node`` (too large to send)."""
    folder = Path(folder)
    files: dict[str, bytes] = {}
    left: list[dict[str, Any]] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        relative = path.relative_to(folder).as_posix()
        size = path.stat().st_size
        if is_record(PurePosixPath(relative)) or size <= max_bytes:
            files[relative] = path.read_bytes()
        else:
            left.append({"path": relative, "bytes": size})
    return {"root": str(folder), "files": files, "left_on_node": left}


def _safe(relative: str) -> PurePosixPath:
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"refusing to unpack {relative!r}: not a relative path inside the folder")
    return path


def _retarget(data: bytes, relative: PurePosixPath, old_root: str, new_root: str) -> bytes:
    """The task's scratch path, written into a text file, as the driver's path."""
    if relative.suffix.lower() not in TEXT_SUFFIXES or old_root.encode() not in data:
        return data
    text = data.decode("utf-8", errors="surrogateescape")
    if relative.suffix.lower() in (".json", ".jsonl"):  # as JSON writes a string: escaped
        text = text.replace(json.dumps(old_root)[1:-1], json.dumps(new_root)[1:-1])
    else:
        text = text.replace(old_root, new_root)
    return text.encode("utf-8", errors="surrogateescape")


def unpack(payload: dict[str, Any], dest: Path, *, node: dict[str, Any] | None = None,
           old_root: str | None = None, new_root: str | None = None) -> Path:
    """Write a :func:`pack` payload to ``dest`` (replacing what was there) and, given ``node``, its node.json.

    ``old_root`` -> ``new_root``: the path prefix to rewrite in text files (default:
    the packed folder -> ``dest``).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    old_root = old_root or payload["root"]
    new_root = new_root or str(dest)
    incoming = dest.parent / f".{dest.name}.incoming-{uuid.uuid4().hex[:8]}"
    try:
        for relative, data in payload["files"].items():
            path = _safe(relative)
            target = incoming.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_retarget(data, path, old_root, new_root))
        incoming.mkdir(parents=True, exist_ok=True)
        if node is not None:
            record = {**node, "gathered_files": len(payload["files"]),
                      "gathered_bytes": sum(len(d) for d in payload["files"].values()),
                      "left_on_node": payload["left_on_node"]}
            write_json(RunFolder(incoming).node, record)
        _replace_dir(incoming, dest)
    finally:
        if incoming.exists():
            shutil.rmtree(incoming, ignore_errors=True)
    return dest


def _replace_dir(new: Path, dest: Path) -> None:
    """Put ``new`` at ``dest`` by rename; an old ``dest`` is moved aside first, then deleted."""
    if not dest.exists():
        new.rename(dest)
        return
    old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
    dest.rename(old)
    new.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
