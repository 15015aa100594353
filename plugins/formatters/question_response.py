"""Question/response records as OpenOrca publishes them: ``{system_prompt, question, response}``.

The seed mixes in ``Open-Orca/OpenOrca`` as general data; this formatter reads
its rows directly, so a hub source needs no conversion step.
"""

from __future__ import annotations

from typing import Any

from harness import Example, FormatError, Formatter, Message

from .common import require_mapping, require_text, single_exchange


class QuestionResponseFormatter(Formatter):
    name = "question_response"
    aliases = ("openorca",)
    summary = "{system_prompt?, question, response} rows (OpenOrca and similar)"

    def detect(self, record: dict[str, Any]) -> bool:
        return isinstance(record, dict) and "question" in record and "response" in record

    def parse(self, record: dict[str, Any]) -> Example:
        record = require_mapping(record)
        question = require_text(record, "question")
        response = require_text(record, "response")
        system = record.get("system_prompt")
        messages = []
        if system is not None and not isinstance(system, str):
            raise FormatError(f"'system_prompt' must be a string, got {type(system).__name__}")
        if system and system.strip():
            messages.append(Message("system", system))
        messages += [Message("user", question), Message("assistant", response)]
        return Example(messages=tuple(messages))

    def dump(self, example: Example) -> dict[str, Any]:
        if not example.is_chat:
            raise FormatError("question_response holds a question and a response; this example is plain text")
        system, question, response = single_exchange(example.messages, "question_response")
        if response is None:
            raise FormatError("question_response needs a response; this conversation ends with a user turn")
        return {"system_prompt": system or "", "question": question, "response": response}
