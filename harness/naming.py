"""Did-you-mean for names a user types: components, config values, benchmark names."""

from __future__ import annotations

import difflib
from typing import Iterable


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name nearest to a misspelt one, if any is close enough."""
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_name_message(kind: str, name: str, known: Iterable[str]) -> str:
    known = sorted(known)
    hint = closest(name, known)
    message = f"unknown {kind} {name!r}; known {kind} names: {', '.join(known) or '(none)'}"
    return message + (f". Did you mean {hint!r}?" if hint else "")
