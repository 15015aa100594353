"""Collect a run folder's saved results and hand them to every report renderer plugin.

Rendering reads only what is on disk, so a report can be re-rendered at any
time without recomputing anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.plugins import Harness
from harness.evaluation.gate import read_verdict
from harness.loop.rundir import RunFolder, read_json


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
    # Through the typed record (harness.run_record): a renderer gets a verdict that validated, with
    # the fields later versions added filled in for a run saved before them.
    verdict = read_verdict(folder.root).as_json()
    rounds = {}
    for index in folder.completed_rounds():
        files = folder.round(index)
        rounds[index] = {
            "plan": files.read("plan"),
            "mix": files.read("mix", {}),
            "training": files.read("training", {}),
            "metrics": read_jsonl(files.metrics),
            "decision": files.read("decision"),
            "samples": files.read("samples", []),
            "data_stats": files.read("data_stats", {}),
            "checkpoint_choice": files.read("checkpoint_choice", {}),
            "interpolation": files.read("interpolation"),
            "breakdown": files.read("breakdown", {}),  # absent in runs saved before it existed
        }
    base_samples = folder.base_samples
    return {
        "run_dir": str(folder.root),
        "verdict": verdict,
        "rounds": rounds,
        "manifest": read_json(folder.manifest) if folder.manifest.is_file() else {},
        "config_text": folder.config.read_text(encoding="utf-8") if folder.config.is_file() else "",
        "base_samples": read_json(base_samples) if base_samples.is_file() else [],
    }


def render_reports(harness: Harness, run_dir: Path, only: list[str] | None = None) -> list[Path]:
    """Render a run folder's reports; returns the files written.

    ``only`` names the reporters to use. Without it, the run's own config decides
    (its ``reporters:``, each with its options; every registered reporter when the
    config does not say), so ``harness run`` and ``harness report`` honour it alike.
    """
    results = collect(Path(run_dir))
    if only is not None:
        refs: list[tuple[str, dict[str, Any]]] = [(name, {}) for name in only]
    else:
        refs = _configured_reporters(RunFolder(run_dir)) or [(n, {}) for n in _names_in_scope(harness, "run")]
    written: list[Path] = []
    for name, options in refs:
        cls = harness.reporter(name)
        written += cls(cls.Options.model_validate(options)).render(Path(run_dir), results)
    return written


def render_comparison(harness: Harness, compare_dir: Path, summary: dict[str, Any]) -> list[Path]:
    """Render a comparison with every comparison reporter (compare.json, .md, .html by default)."""
    written: list[Path] = []
    for name in _names_in_scope(harness, "comparison"):
        cls = harness.reporter(name)
        written += cls(cls.Options()).render(Path(compare_dir), summary)
    return written


def _names_in_scope(harness: Harness, scope: str) -> list[str]:
    catalog = harness.catalogs["reporter"]
    return [n for n in catalog.names() if getattr(catalog.get(n), "scope", "run") == scope]


def _configured_reporters(folder: RunFolder) -> list[tuple[str, dict[str, Any]]] | None:
    """The ``reporters:`` of the run's config snapshot as (name, options); None when it does not say."""
    import yaml

    if not folder.config.is_file():
        return None
    configured = (yaml.safe_load(folder.config.read_text(encoding="utf-8")) or {}).get("reporters")
    if configured is None:
        return None
    refs = []
    for ref in configured:
        ref = {"name": ref} if isinstance(ref, str) else dict(ref)
        refs.append((ref.pop("name"), ref))
    return refs
