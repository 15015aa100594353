"""ShareGPT: ``{"conversations": [{"from": "human"|"gpt"|"system", "value": ...}, ...]}``."""

from __future__ import annotations

from typing import Any

from harness import Example, FormatError, Formatter

from .common import check_order, make_message, turns_of

# ShareGPT dumps in the wild use several speaker names for the same two roles.
SPEAKERS = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "model": "assistant",
}
WRITTEN = {"system": "system", "user": "human", "assistant": "gpt"}


class ShareGPTFormatter(Formatter):
    name = "sharegpt"
    summary = "{conversations: [{from: human|gpt|system, value}]}, multi-turn"

    def detect(self, record: dict[str, Any]) -> bool:
        return isinstance(record, dict) and "conversations" in record

    def parse(self, record: dict[str, Any]) -> Example:
        messages = []
        for where, turn in turns_of(record, "conversations"):
            speaker = turn.get("from")
            if speaker is not None and speaker not in SPEAKERS:
                raise FormatError(f"{where}: unknown speaker {speaker!r} (allowed: {', '.join(SPEAKERS)})")
            messages.append(make_message(SPEAKERS.get(speaker), turn.get("value"), where))
        return Example(messages=check_order(tuple(messages)))

    def dump(self, example: Example) -> dict[str, Any]:
        if not example.is_chat:
            raise FormatError("sharegpt holds conversations; this example is plain completion text")
        return {"conversations": [{"from": WRITTEN[m.role], "value": m.content} for m in example.messages]}
