"""Turning examples into token ids and loss labels, with the model's own chat template.

Conversations are rendered by the tokenizer's chat template (the seed's
``type: chat_template``), so the fine-tuned model sees exactly the format it will
be prompted with. Labels cover only the assistant turns by default: the loss
teaches answers, not how to write questions or system prompts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from harness.records import Example

IGNORE_INDEX = -100  # the label value torch's cross-entropy skips


@dataclass
class Encoded:
    """One example's token ids and labels (``IGNORE_INDEX`` where no loss is taken)."""

    input_ids: list[int]
    labels: list[int]
    full_length: int  # before truncation

    @property
    def truncated(self) -> bool:
        return self.full_length > len(self.input_ids)

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


def _messages(example: Example) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in example.messages]


def render(example: Example, tokenizer: Any) -> tuple[str, list[tuple[int, int]]]:
    """The example as text, and the character spans of its assistant turns."""
    if not example.is_chat and example.trained_spans is not None:
        return example.text, list(example.trained_spans)  # template-free: no token added
    if not example.is_chat:
        return example.text + (tokenizer.eos_token or ""), [(0, len(example.text) + len(tokenizer.eos_token or ""))]
    messages = _messages(example)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        # The template is prefix-stable: the text up to the generation prompt for
        # turn i is a prefix of the full text, and turn i ends where the rendering
        # of messages[:i+1] ends.
        start = len(tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True))
        end = len(tokenizer.apply_chat_template(messages[: i + 1], tokenize=False))
        spans.append((start, end))
    return full, spans


def encode(
    example: Example,
    tokenizer: Any,
    *,
    max_length: int,
    train_on: Literal["assistant", "all"] = "assistant",
) -> Encoded:
    """Token ids and labels for one example, truncated to ``max_length`` tokens."""
    text, spans = render(example, tokenizer)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = enc["input_ids"]
    if train_on == "all":
        labels = list(ids)
    else:
        labels = [
            token if any(start <= begin < end for start, end in spans) else IGNORE_INDEX
            for token, (begin, _) in zip(ids, enc["offset_mapping"])
        ]
    return Encoded(ids[:max_length], labels[:max_length], len(ids))


def token_length(example: Example, tokenizer: Any) -> int:
    """How many tokens the example renders to, untruncated."""
    text, _ = render(example, tokenizer)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])
