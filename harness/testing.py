"""Test tooling for harness and its plugin authors: a tiny real model, built in seconds.

The tiny model is a randomly initialised Llama (the architecture of Llama 3,
SmolLM2, Mistral-style models) with SmolLM2's real tokenizer and chat template,
saved as an ordinary safetensors folder, so every code path that takes a model
folder runs on it unchanged, on a CPU, in seconds.

Use the fixtures from a plugin's own tests with, in ``conftest.py``::

    pytest_plugins = ["harness.testing"]
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from harness.models.loading import cache_root, smollm2_gguf

TINY_SHAPE = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=1024,
    tie_word_embeddings=False,  # tied tiny embeddings only ever generate newlines
)


def real_tokenizer_folder() -> Path:
    """SmolLM2's tokenizer (from the offline asset package), cached as a folder."""
    folder = cache_root() / "tokenizers" / "smollm2-135m-instruct"
    if (folder / "tokenizer_config.json").is_file():
        return folder
    from transformers import AutoTokenizer

    gguf = smollm2_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent.parent if folder.parent.exists() else cache_root(), prefix=".tok-"))
    tokenizer.save_pretrained(tmp)
    folder.parent.mkdir(parents=True, exist_ok=True)
    if not folder.exists():
        tmp.rename(folder)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def build_tiny_model(target: Path, seed: int = 0, **shape: Any) -> Path:
    """Write a tiny random Llama + real tokenizer into ``target``; return it."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(real_tokenizer_folder())
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **{**TINY_SHAPE, **shape},
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
    return target


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def chat_records(n: int, topic: str = "fire", seed: int = 0) -> list[dict[str, Any]]:
    """``n`` small, distinct ChatML conversations for tests."""
    return [
        {
            "messages": [
                {"role": "user", "content": f"Question {i} about {topic}: what should I check first?"},
                {"role": "assistant", "content": f"Check item {(i * 7 + seed) % 13} first, then report to command."},
            ]
        }
        for i in range(n)
    ]


# --------------------------------------------------------------- conformance checks


def check_trainer(trainer_cls: Any, model_dir: Path, work_dir: Path, **settings: Any) -> Any:
    """Run a trainer plugin on the tiny model and check what the loop relies on.

    A third-party trainer passes this on CPU in seconds: it trains, writes the
    weights it names (a PEFT adapter or a model folder), and returns a complete
    :class:`harness.TrainingRecord`. Returns the record for further checks.
    """
    from harness.records import Example, Message, TrainingRecord, TrainRequest
    from harness.config import RunConfig

    config = RunConfig(**{"base_model": str(model_dir), "micro_batch_size": 4, "gradient_accumulation_steps": 1,
                          "max_steps": 3, "lora_r": 4, "lora_alpha": 8, "sequence_len": 96, **settings})
    make = lambda records: [Example(messages=tuple(Message(m["role"], m["content"]) for m in r["messages"]))  # noqa: E731
                            for r in records]
    trainer = trainer_cls(trainer_cls.Options())
    trainer.check_environment(config)
    record = trainer.train(TrainRequest(config=config, train=make(chat_records(12)),
                                        validation=make(chat_records(4, seed=1)), output_dir=work_dir,
                                        general=make(chat_records(8, "general", seed=2))))
    assert isinstance(record, TrainingRecord), f"{trainer_cls.name}.train must return a TrainingRecord"
    assert record.steps >= 1, "no optimizer step was taken"
    marker = "adapter_config.json" if record.is_adapter else "config.json"
    assert (Path(record.weights_dir) / marker).is_file(), f"{record.weights_dir} has no {marker}"
    assert Path(record.metrics_file).is_file(), "no metrics file was written"
    return record


def check_benchmark(benchmark: Any, model: Any, *, limit: int = 6) -> Any:
    """Run a benchmark plugin twice on a loaded model and check what the statistics rely on.

    Item ids must be unique and stable, exactly the items asked for must come
    back, scores must be finite, and a second run must give identical scores.
    ``item_details`` (optional) may describe only items it was asked about.
    """
    import math

    from harness.evaluation.scoring import take_items

    asked = take_items(benchmark, limit, seed=0)
    first = benchmark.evaluate(model, items=asked, batch_size=2)
    second = benchmark.evaluate(model, items=asked, batch_size=2)
    ids = [item.item_id for item in first.items]
    assert first.items, f"{benchmark.name} scored no items"
    assert len(ids) == len(set(ids)), f"{benchmark.name} returned duplicate item ids"
    assert sorted(ids) == sorted(asked), f"{benchmark.name} did not return exactly the items asked for"
    assert all(math.isfinite(item.score) for item in first.items), f"{benchmark.name} returned non-finite scores"
    assert [(i.item_id, i.score) for i in first.items] == [(i.item_id, i.score) for i in second.items], (
        f"{benchmark.name} is not deterministic: same model, items and seed gave different scores")
    assert benchmark.definition_fingerprint(), f"{benchmark.name} needs a definition fingerprint for the cache"
    from harness.records import ItemDetail

    details = benchmark.item_details(asked)
    assert set(details) <= set(asked), f"{benchmark.name}.item_details described items it was not asked about"
    assert all(isinstance(d, ItemDetail) for d in details.values()), f"{benchmark.name}.item_details must give ItemDetail"
    return first


# ------------------------------------------------------------------- pytest fixtures

try:
    import pytest
except ImportError:  # harness.testing is importable without pytest installed
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="session")
    def tiny_model_dir(tmp_path_factory: Any) -> Path:
        """A folder holding a tiny random Llama with SmolLM2's real tokenizer."""
        return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))

    @pytest.fixture(scope="session")
    def harness_app() -> Any:
        """The plugin manager and catalogs, with every installed plugin loaded."""
        from harness.plugins import load_harness

        return load_harness()

    @pytest.fixture
    def chat_file(tmp_path: Path) -> Iterator[Path]:
        """A small ChatML JSONL file."""
        yield write_jsonl(tmp_path / "chat.jsonl", chat_records(24))
