"""Plain completion text: ``{"text": ...}``; the loss covers all of it."""

from __future__ import annotations

from typing import Any

from harness import Example, FormatError, Formatter

from .common import require_mapping, require_text


class CompletionFormatter(Formatter):
    name = "completion"
    aliases = ("text",)
    summary = "{text}: plain text trained on in full (no roles)"

    def detect(self, record: dict[str, Any]) -> bool:
        # Only a bare text record: chat formats may carry a "text" key beside their own.
        return isinstance(record, dict) and "text" in record and not ({"messages", "conversations", "instruction"} & set(record))

    def parse(self, record: dict[str, Any]) -> Example:
        return Example(text=require_text(require_mapping(record), "text"))

    def dump(self, example: Example) -> dict[str, Any]:
        if example.is_chat:
            raise FormatError("completion holds plain text; this example is a conversation with roles "
                              "(keep it in chatml, or train on it with train_on: all)")
        return {"text": example.text}
