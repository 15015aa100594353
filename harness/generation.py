"""Greedy generation from a model in memory: the seed's step 7, and the report's samples."""

from __future__ import annotations

from typing import Any

from harness.api import LoadedModel


def chat_prompt(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def generate(model: LoadedModel, prompts: list[list[dict[str, str]]], *, max_new_tokens: int = 64) -> list[str]:
    """One greedy completion per chat prompt (deterministic, so reports are reproducible)."""
    import torch

    tokenizer = model.tokenizer
    outputs = []
    with torch.inference_mode():
        for messages in prompts:
            encoded = tokenizer(chat_prompt(tokenizer, messages), return_tensors="pt",
                                add_special_tokens=False).to(model.device)
            generated = model.model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                                             pad_token_id=tokenizer.pad_token_id)
            new_tokens = generated[0, encoded["input_ids"].shape[1]:]
            outputs.append(tokenizer.decode(new_tokens, skip_special_tokens=True).strip())
    return outputs
