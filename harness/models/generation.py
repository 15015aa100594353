"""Greedy generation from a model in memory: the seed's step 7, the report's samples, self-rehearsal.

One generator for everything that generates: greedy (deterministic, so reports and
self-rehearsal data repeat exactly), batched with left padding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from harness.records import LoadedModel


@dataclass(frozen=True)
class Answer:
    text: str
    finished: bool  # ended with the end-of-turn token, not cut at max_new_tokens


def chat_prompt(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def generate(model: LoadedModel, prompts: Sequence[list[dict[str, str]]], *, max_new_tokens: int = 64,
             batch_size: int = 8) -> list[Answer]:
    """One greedy answer per chat prompt, batched with left padding."""
    import torch

    tokenizer = model.tokenizer
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues from the right edge of each row
    answers = []
    try:
        for start in range(0, len(prompts), batch_size):
            texts = [chat_prompt(tokenizer, p) for p in prompts[start:start + batch_size]]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.model.device)
            with torch.inference_mode():
                output = model.model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                              pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            for row in output[:, batch["input_ids"].shape[1]:].tolist():
                finished = tokenizer.eos_token_id in row
                if finished:
                    row = row[: row.index(tokenizer.eos_token_id)]
                answers.append(Answer(tokenizer.decode(row, skip_special_tokens=True).strip(), finished))
    finally:
        tokenizer.padding_side = side
    return answers
