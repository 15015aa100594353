"""Checks shared by the built-in formatters: one place that says what a valid turn is."""

from __future__ import annotations

from typing import Any

from harness import FormatError, Message

ROLES = ("system", "user", "assistant")


def require_mapping(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise FormatError(f"expected a JSON object, got {type(record).__name__}")
    return record


def require_text(record: dict[str, Any], key: str, *, allow_empty: bool = False) -> str:
    """The string under ``key``; a missing key, a non-string or (by default) blank text is an error."""
    if key not in record:
        raise FormatError(f"missing key {key!r}")
    value = record[key]
    if not isinstance(value, str):
        raise FormatError(f"{key!r} must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise FormatError(f"{key!r} is empty")
    return value


def turns_of(record: Any, key: str) -> list[tuple[str, dict[str, Any]]]:
    """The list of turn objects under ``key``, each with its location for error messages."""
    record = require_mapping(record)
    if key not in record:
        raise FormatError(f"missing key {key!r}")
    turns = record[key]
    if not isinstance(turns, list):
        raise FormatError(f"{key!r} must be a list, got {type(turns).__name__}")
    out = []
    for i, turn in enumerate(turns):
        where = f"{key}[{i}]"
        if not isinstance(turn, dict):
            raise FormatError(f"{where} must be an object, got {type(turn).__name__}")
        out.append((where, turn))
    return out


def make_message(role: Any, content: Any, where: str) -> Message:
    """A validated :class:`Message`; ``where`` names the turn in error messages."""
    if role is None:
        raise FormatError(f"{where}: missing role")
    if role not in ROLES:
        raise FormatError(f"{where}: unknown role {role!r} (allowed: {', '.join(ROLES)})")
    if not isinstance(content, str):
        raise FormatError(f"{where}: content must be a string, got {type(content).__name__}")
    if not content.strip():
        raise FormatError(f"{where}: empty content")
    return Message(role, content)


def check_order(messages: tuple[Message, ...]) -> tuple[Message, ...]:
    """A system turn may only open a conversation; there must be something besides it."""
    if not messages:
        raise FormatError("the conversation has no turns")
    for i, message in enumerate(messages):
        if message.role == "system" and i != 0:
            raise FormatError(f"turn {i + 1}: a system turn may only come first")
    if all(m.role == "system" for m in messages):
        raise FormatError("the conversation has only a system turn")
    return messages


def single_exchange(messages: tuple[Message, ...], target: str) -> tuple[str | None, str, str | None]:
    """(system, user, assistant) for formats that hold one question and one answer."""
    system = messages[0].content if messages and messages[0].role == "system" else None
    rest = messages[1:] if system is not None else messages
    roles = [m.role for m in rest]
    if roles not in (["user"], ["user", "assistant"]):
        turns = sum(1 for r in roles if r == "user")
        raise FormatError(
            f"{target} holds one user turn and one assistant answer; this conversation has "
            f"{turns} user turn(s) and {len(roles) - turns} assistant turn(s) "
            f"(keep it in chatml or sharegpt, which hold multi-turn conversations)"
        )
    return system, rest[0].content, rest[1].content if len(rest) == 2 else None
