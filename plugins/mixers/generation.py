"""Greedy answers from the base model, and the on-disk cache that keeps them.

Self-rehearsal trains on what the base model already says, so the answers must
come from the exact base weights with deterministic (greedy) decoding. They are
cached under a key made of the weights fingerprint, the prompt set's hash and
the generation settings: the same model never answers the same prompt twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from harness.api import Example, LoadedModel


@dataclass(frozen=True)
class Answer:
    text: str
    finished: bool  # ended with the end-of-turn token, not cut at max_new_tokens


def prompt_messages(example: Example) -> list[dict[str, str]]:
    """The conversation up to and including its last user turn (any answer is dropped)."""
    last_user = max(i for i, m in enumerate(example.messages) if m.role == "user")
    return [{"role": m.role, "content": m.content} for m in example.messages[: last_user + 1]]


def prompt_key(messages: list[dict[str, str]]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def prompts_hash(keys: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


class AnswerCache:
    """A JSONL file of ``{key, answer, finished}``, appended batch by batch (so a crash loses one batch)."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path = path
        self.answers: dict[str, Answer] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        meta_path = path.with_suffix(".meta.json")
        if not meta_path.exists():
            meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash; its prompt is simply answered again
                self.answers[row["key"]] = Answer(row["answer"], row["finished"])

    def __contains__(self, key: str) -> bool:
        return key in self.answers

    def __getitem__(self, key: str) -> Answer:
        return self.answers[key]

    def add(self, items: dict[str, Answer]) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            for key, answer in items.items():
                out.write(json.dumps({"key": key, "answer": answer.text, "finished": answer.finished},
                                     ensure_ascii=False) + "\n")
        self.answers.update(items)


def generate(loaded: LoadedModel, prompts: Sequence[list[dict[str, str]]], *, max_new_tokens: int,
             batch_size: int) -> list[Answer]:
    """Greedy answers to chat prompts, batched with left padding."""
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues from the right edge of each row
    answers = []
    try:
        for start in range(0, len(prompts), batch_size):
            texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
                     for p in prompts[start:start + batch_size]]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            with torch.no_grad():
                output = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            for row in output[:, batch["input_ids"].shape[1]:].tolist():
                finished = tokenizer.eos_token_id in row
                if finished:
                    row = row[: row.index(tokenizer.eos_token_id)]
                answers.append(Answer(tokenizer.decode(row, skip_special_tokens=True).strip(), finished))
    finally:
        tokenizer.padding_side = side
    return answers
