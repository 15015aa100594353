"""A run folder that loses nothing: every file is written atomically, every round completely.

Layout::

    RUN_DIR/
      config.yml               the validated config, as run
      data/manifest.json       counts and hashes of every source, the split
      base/eval.json           the base model's per-item results
      base/samples.json        the base model's sample generations
      rounds/round-N/
        plan.json              share and learning rate of this round
        mix.json               what the mixer put in (counts, hashes, percentages)
        data_stats.json        token lengths of the training mix
        train/                 the trainer's folder: adapter or model, metrics.jsonl, checkpoints
        training.json          the trainer's record (steps, losses, tokens, seconds)
        checkpoint_choice.json which weights were evaluated, and why
        eval.json              the candidate's per-item results (the items this round's verdict used)
        base_eval.json         the base's per-item results on those same items
        samples.json           base vs fine-tuned generations
        forgetting.json        per benchmark: base -> candidate, CI, p-value, status; the verdict
        breakdown.json         where it forgot: per-group paired comparisons, items flipped right -> wrong
        decision.json          what the loop does next, and why
        interpolation.json     after a failed round under the interpolate policy: each scale
                               probed toward the base, its verdict and seconds
        interpolation/s-X/     each probe's scaled LoRA adapter (plain PEFT folders)
        weights/               an interpolation round's weights (it trains nothing): a LoRA
                               adapter with the scale folded in, or a model folder
        COMPLETE               written last: the round is fully on disk
      verdict.json             the run's outcome (the release gate reads this)
      logs/libraries.log       the libraries' own warnings and progress output
      error.json, traceback.txt  a strategy of a comparison that failed
      node.json                which Ray node ran a strategy of a comparison, and the
                               files it left there (--executor ray)

Every file name lives here: the loop, resume, reports, the gate and comparisons
reach files through :class:`RunFolder` and :class:`RoundFolder`, never by literal.

A round without ``COMPLETE`` is redone from its last training checkpoint on
``--resume``; a complete one is read back, never recomputed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from harness.records import BenchmarkResult, ItemScore
from harness.files import write_atomic

COMPLETE = "COMPLETE"


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "value") and value.__class__.__module__ != "builtins" and hasattr(value, "name"):
        return value.value  # enums
    return value


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(_plain(data), indent=2, sort_keys=False, allow_nan=True) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def result_to_json(result: BenchmarkResult) -> dict[str, Any]:
    return {
        "benchmark": result.benchmark,
        "metric": result.metric,
        "n": result.n,
        "score": result.score,
        "seconds": result.seconds,
        # [id, score], [id, score, chance] or [id, score, chance, margin]: what is known travels with the item.
        "items": [[i.item_id, i.score, i.chance, i.margin] if i.margin is not None else
                  [i.item_id, i.score] if i.chance is None else [i.item_id, i.score, i.chance] for i in result.items],
        "extra": _plain(result.extra),
    }


def result_from_json(data: dict[str, Any]) -> BenchmarkResult:
    return BenchmarkResult(
        benchmark=data["benchmark"],
        metric=data["metric"],
        items=[ItemScore(*item) for item in data["items"]],
        seconds=data.get("seconds", 0.0),
        extra=data.get("extra", {}),
    )


class RoundFolder:
    """The files of one round (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __getattr__(self, name: str) -> Path:
        if name in _ROUND_FILES:
            return self.root / _ROUND_FILES[name]
        raise AttributeError(name)

    def read(self, name: str, default: Any = None) -> Any:
        """A round file's JSON, or ``default`` when the file is not there."""
        path = getattr(self, name)
        return read_json(path) if path.is_file() else default


# Round file names, by the attribute RoundFolder gives them.
_ROUND_FILES = {
    "plan": "plan.json", "mix": "mix.json", "data_stats": "data_stats.json", "train": "train",
    "training": "training.json", "checkpoint_choice": "checkpoint_choice.json", "eval": "eval.json",
    "base_eval": "base_eval.json", "samples": "samples.json", "forgetting": "forgetting.json",
    "breakdown": "breakdown.json",
    "decision": "decision.json", "complete": COMPLETE, "metrics": "train/metrics.jsonl",
    # the interpolation search after this round, its probes' scaled adapters, and an
    # interpolation round's own weights
    "interpolation": "interpolation.json", "interpolation_probes": "interpolation", "weights": "weights",
}


class RunFolder:
    """Paths and atomic reads/writes for one run."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def config(self) -> Path:
        return self.root / "config.yml"

    @property
    def manifest(self) -> Path:
        return self.root / "data" / "manifest.json"

    @property
    def base_eval(self) -> Path:
        return self.root / "base" / "eval.json"

    @property
    def base_samples(self) -> Path:
        return self.root / "base" / "samples.json"

    @property
    def verdict(self) -> Path:
        return self.root / "verdict.json"

    @property
    def library_log(self) -> Path:
        return self.root / "logs" / "libraries.log"

    @property
    def error(self) -> Path:
        return self.root / "error.json"

    @property
    def traceback(self) -> Path:
        return self.root / "traceback.txt"

    @property
    def node(self) -> Path:
        return self.root / "node.json"

    def round_dir(self, index: int) -> Path:
        return self.root / "rounds" / f"round-{index}"

    def round(self, index: int) -> RoundFolder:
        return RoundFolder(self.round_dir(index))

    def is_complete(self, index: int) -> bool:
        return (self.round_dir(index) / COMPLETE).is_file()

    def mark_complete(self, index: int) -> None:
        write_atomic(self.round_dir(index) / COMPLETE, "")

    def completed_rounds(self) -> list[int]:
        rounds = sorted(
            int(p.name.split("-")[1]) for p in (self.root / "rounds").glob("round-*") if p.name.split("-")[1].isdigit()
        ) if (self.root / "rounds").is_dir() else []
        return [r for r in rounds if self.is_complete(r)]

    def save_results(self, path: Path, results: dict[str, BenchmarkResult]) -> None:
        write_json(path, {name: result_to_json(r) for name, r in results.items()})

    def load_results(self, path: Path) -> dict[str, BenchmarkResult]:
        return {name: result_from_json(r) for name, r in read_json(path).items()}
