"""Alpaca: ``{"instruction": ..., "input": ..., "output": ...}`` (optionally ``system``).

One instruction and one answer per record. ``instruction`` and a non-empty
``input`` become one user turn, separated by a blank line, which is how Alpaca's
own prompt presents them; writing back puts the whole user turn in
``instruction`` with an empty ``input``.
"""

from __future__ import annotations

from typing import Any

from harness import Example, FormatError, Formatter, Message

from .common import check_order, require_mapping, require_text, single_exchange


class AlpacaFormatter(Formatter):
    name = "alpaca"
    summary = "{instruction, input, output[, system]}: one instruction and its answer"

    def detect(self, record: dict[str, Any]) -> bool:
        return isinstance(record, dict) and "instruction" in record and "output" in record

    def parse(self, record: dict[str, Any]) -> Example:
        record = require_mapping(record)
        instruction = require_text(record, "instruction")
        extra = require_text(record, "input", allow_empty=True) if "input" in record else ""
        output = require_text(record, "output")
        messages = []
        if record.get("system") is not None:
            messages.append(Message("system", require_text(record, "system")))
        user = f"{instruction}\n\n{extra}" if extra.strip() else instruction
        messages += [Message("user", user), Message("assistant", output)]
        return Example(messages=check_order(tuple(messages)))

    def dump(self, example: Example) -> dict[str, Any]:
        if not example.is_chat:
            raise FormatError("alpaca holds an instruction and an answer; this example is plain completion text")
        system, user, answer = single_exchange(example.messages, "alpaca")
        if answer is None:
            raise FormatError("alpaca needs an answer ('output'); this conversation ends with a user turn")
        record: dict[str, Any] = {"instruction": user, "input": "", "output": answer}
        if system is not None:
            record = {"system": system, **record}
        return record
