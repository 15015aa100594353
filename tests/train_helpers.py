"""Small builders shared by the training tests (examples and settings for the tiny model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import Example, Message
from harness.config import RunConfig
from harness.testing import chat_records


def examples(n: int, topic: str = "fire", seed: int = 0) -> list[Example]:
    """ChatML records from harness.testing, parsed into Examples (no dependency on harness.data.examples)."""
    return [
        Example(messages=tuple(Message(m["role"], m["content"]) for m in record["messages"]), origin=f"test:{i + 1}")
        for i, record in enumerate(chat_records(n, topic=topic, seed=seed))
    ]


def settings(model_dir: Path, **overrides: Any) -> RunConfig:
    """A deterministic, small run config for the tiny model."""
    base = dict(
        base_model=str(model_dir),
        micro_batch_size=4,
        gradient_accumulation_steps=1,
        max_steps=12,
        learning_rate=5e-3,
        lora_dropout=0.0,
        lora_r=8,
        lora_alpha=16,
        sequence_len=128,
        logging_steps=100,
        seed=0,
    )
    base.update(overrides)
    return RunConfig(**base)


def train_losses(metrics_file: Path) -> list[float]:
    import json

    rows = [json.loads(line) for line in metrics_file.read_text().splitlines()]
    return [r["loss"] for r in rows if r["type"] == "train" and r["loss"] is not None]
