"""Collect a run folder's saved results and hand them to every report renderer plugin.

Rendering reads only what is on disk, so a report can be re-rendered at any
time without recomputing anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.plugins import Harness
from harness.rundir import RunFolder, read_json


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash mid-write; the rest is still worth drawing
    return rows


def collect(run_dir: Path) -> dict[str, Any]:
    """Everything a renderer needs, read from the run folder."""
    folder = RunFolder(run_dir)
    verdict = read_json(folder.verdict)
    rounds = {}
    for index in folder.completed_rounds():
        rdir = folder.round_dir(index)
        rounds[index] = {
            "plan": read_json(rdir / "plan.json"),
            "mix": read_json(rdir / "mix.json") if (rdir / "mix.json").is_file() else {},
            "training": read_json(rdir / "training.json") if (rdir / "training.json").is_file() else {},
            "metrics": read_jsonl(rdir / "train" / "metrics.jsonl"),
            "decision": read_json(rdir / "decision.json"),
            "samples": read_json(rdir / "samples.json") if (rdir / "samples.json").is_file() else [],
            "data_stats": read_json(rdir / "data_stats.json") if (rdir / "data_stats.json").is_file() else {},
            "checkpoint_choice": (read_json(rdir / "checkpoint_choice.json")
                                  if (rdir / "checkpoint_choice.json").is_file() else {}),
        }
    base_samples = folder.root / "base" / "samples.json"
    return {
        "run_dir": str(folder.root),
        "verdict": verdict,
        "rounds": rounds,
        "manifest": read_json(folder.manifest) if folder.manifest.is_file() else {},
        "config_text": folder.config.read_text(encoding="utf-8") if folder.config.is_file() else "",
        "base_samples": read_json(base_samples) if base_samples.is_file() else [],
    }


def render_reports(harness: Harness, run_dir: Path, only: list[str] | None = None) -> list[Path]:
    """Render with every registered reporter (or the named ones); returns the files written."""
    results = collect(Path(run_dir))
    names = only or harness.catalogs["reporter"].names()
    written: list[Path] = []
    for name in names:
        cls = harness.reporter(name)
        written += cls(cls.Options()).render(Path(run_dir), results)
    return written
