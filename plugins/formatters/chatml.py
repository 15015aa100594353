"""ChatML / OpenAI ``messages``: ``{"messages": [{"role": ..., "content": ...}, ...]}``.

The seed's ``type: chat_template`` names this same record shape: the records are
rendered with the base model's own chat template when tokenised, whatever the
file calls it.
"""

from __future__ import annotations

from typing import Any

from harness.api import Example, FormatError, Formatter

from .common import check_order, make_message, require_mapping


class ChatMLFormatter(Formatter):
    name = "chatml"
    aliases = ("messages", "chat_template")
    summary = "OpenAI-style {messages: [{role, content}]}, multi-turn, system/user/assistant"

    def detect(self, record: dict[str, Any]) -> bool:
        return isinstance(record, dict) and "messages" in record

    def parse(self, record: dict[str, Any]) -> Example:
        record = require_mapping(record)
        if "messages" not in record:
            raise FormatError("missing key 'messages'")
        turns = record["messages"]
        if not isinstance(turns, list):
            raise FormatError(f"'messages' must be a list, got {type(turns).__name__}")
        messages = []
        for i, turn in enumerate(turns):
            where = f"messages[{i}]"
            if not isinstance(turn, dict):
                raise FormatError(f"{where} must be an object, got {type(turn).__name__}")
            messages.append(make_message(turn.get("role"), turn.get("content"), where))
        return Example(messages=check_order(tuple(messages)))

    def dump(self, example: Example) -> dict[str, Any]:
        if not example.is_chat:
            raise FormatError("chatml holds conversations; this example is plain completion text")
        return {"messages": [{"role": m.role, "content": m.content} for m in example.messages]}
