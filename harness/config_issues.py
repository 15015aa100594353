"""A config's problems, each with its key path, the bad value and what is allowed.

Pydantic's validation errors are turned into lines a user can act on (a near-miss
key gets a did-you-mean; an unknown key lists the keys its section takes), and all of
them are raised together, so a config is fixed in one pass.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from harness.errors import UsageError
from harness.naming import closest


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config: where, what was there, and what is allowed."""

    path: str
    message: str
    value: Any = None
    has_value: bool = False

    def __str__(self) -> str:
        shown = f" (got {self.value!r})" if self.has_value else ""
        return f"{self.path or '<root>'}: {self.message}{shown}"


class ConfigError(UsageError):
    """An invalid config; carries every issue found."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"{source}: invalid config ({len(issues)} problem{'s' * (len(issues) != 1)}):\n{lines}")


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that a location inside ``model`` points to, if any."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return None
        current = _unwrap(current.model_fields[part].annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """list[X], X | None and friends -> the model class X, where there is one."""
    for arg in typing.get_args(annotation) or ():
        found = _unwrap(arg)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    return annotation


def _really_close(name: str, known: list[str]) -> str | None:
    """A did-you-mean only for a near miss (a typo), never for a merely similar name
    (``deepspeed`` is not ``seed``, ``group_by_length`` is not ``over_length``)."""
    import difflib

    matches = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
    return matches[0] if matches else None


def issues_from_validation(error: ValidationError, root: type[BaseModel], prefix: tuple = ()) -> list[ConfigIssue]:
    issues = []
    unhinted: dict[str, list[str]] = {}  # section -> its keys, listed once after its unknown keys
    for err in error.errors():
        loc = tuple(prefix) + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # Unions report each branch; keep the user's path readable.
        loc = tuple(p for p in loc if p not in ("str", "bool", "literal['auto']", "float", "int"))
        if err["type"] == "extra_forbidden":
            parent = _model_at(root, tuple(err["loc"])[:-1])
            known = sorted(parent.model_fields) if parent else []
            hint = _really_close(str(loc[-1]), known)
            issues.append(ConfigIssue(_dotted(loc), "unknown key" + (f"; did you mean {hint!r}?" if hint else "")))
            if known and not hint:
                unhinted.setdefault(_dotted(loc[:-1]), known)
        else:
            message = err["msg"]
            if err["type"] == "literal_error" and isinstance(err.get("input"), str):
                allowed = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
                hint = closest(err["input"], allowed)
                message += f"; did you mean {hint!r}?" if hint else ""
            shown = "input" in err and err["type"] != "missing"  # a missing key's "input" is the whole parent
            issues.append(ConfigIssue(_dotted(loc), message, err.get("input"), shown))
    for section, known in unhinted.items():
        issues.append(ConfigIssue(section, f"the keys it takes: {', '.join(known)}"))
    return issues
