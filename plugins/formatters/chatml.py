"""ChatML / OpenAI ``messages``: ``{"messages": [{"role": ..., "content": ...}, ...]}``.

The seed's ``type: chat_template`` names this same record shape: the records are
rendered with the base model's own chat template when tokenised, whatever the
file calls it.
"""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from harness import ComponentOptions, Example, FormatError, Formatter

from .common import ROLES, check_order, make_message, turns_of


class ChatOptions(ComponentOptions):
    """Where a record keeps its turns, as Axolotl's ``type: chat_template`` datasets say it."""

    field_messages: str = "messages"
    message_field_role: str = "role"
    message_field_content: str = "content"
    # harness role -> the names the data uses for it, e.g. {user: [human], assistant: [gpt]}
    roles: dict[str, list[str]] | None = None
    roles_to_train: list[str] = ["assistant"]

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        unknown = sorted(set(roles or {}) - set(ROLES))
        if unknown:
            raise ValueError(f"roles maps onto {', '.join(ROLES)}; not {', '.join(unknown)}")
        return roles

    @field_validator("roles_to_train")
    @classmethod
    def _assistant_only(cls, roles: list[str]) -> list[str]:
        if sorted(roles) != ["assistant"]:
            raise ValueError("harness trains the assistant's turns (train_on: assistant) or every token "
                             "(train_on: all); roles_to_train other than [assistant]: use train_on: all")
        return roles


class ChatMLFormatter(Formatter):
    name = "chatml"
    aliases = ("messages", "chat_template")
    summary = "OpenAI-style {messages: [{role, content}]}, multi-turn, system/user/assistant"
    Options = ChatOptions

    def detect(self, record: dict[str, Any]) -> bool:
        return isinstance(record, dict) and self.options.field_messages in record

    def parse(self, record: dict[str, Any]) -> Example:
        options = self.options
        names = {alias: role for role, aliases in (options.roles or {}).items() for alias in aliases}
        messages = [make_message(names.get(turn.get(options.message_field_role), turn.get(options.message_field_role)),
                                 turn.get(options.message_field_content), where)
                    for where, turn in turns_of(record, options.field_messages)]
        return Example(messages=check_order(tuple(messages)))

    def dump(self, example: Example) -> dict[str, Any]:
        if not example.is_chat:
            raise FormatError("chatml holds conversations; this example is plain completion text")
        return {"messages": [{"role": m.role, "content": m.content} for m in example.messages]}
