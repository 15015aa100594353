"""ChatML / OpenAI ``messages``: ``{"messages": [{"role": ..., "content": ...}, ...]}``.

The seed's ``type: chat_template`` names this same record shape: the records are
rendered with the base model's own chat template when tokenised, whatever the
file calls it.
"""

from __future__ import annotations

from typing import Any

from harness.api import Example, FormatError, Formatter

from .common import check_order, make_message, turns_of


class ChatMLFormatter(Formatter):
    name = "chatml"
    aliases = ("messages", "chat_template")
    summary = "OpenAI-style {messages: [{role, content}]}, multi-turn, system/user/assistant"

    def detect(self, record: dict[str, Any]) -> bool:
        return isinstance(record, dict) and "messages" in record

    def parse(self, record: dict[str, Any]) -> Example:
        messages = [make_message(turn.get("role"), turn.get("content"), where)
                    for where, turn in turns_of(record, "messages")]
        return Example(messages=check_order(tuple(messages)))

    def dump(self, example: Example) -> dict[str, Any]:
        if not example.is_chat:
            raise FormatError("chatml holds conversations; this example is plain completion text")
        return {"messages": [{"role": m.role, "content": m.content} for m in example.messages]}
