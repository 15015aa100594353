"""Whether a registered component implements the plugin surface it claims, checked when it loads.

A component class must override every method its base class in ``harness.components`` leaves
abstract (a body that only raises ``NotImplementedError``), and each override must
accept the keyword arguments harness calls it with. A plugin written to an earlier
surface (a benchmark without ``item_ids()``, or ``evaluate(model, *, limit, seed,
batch_size)``) would otherwise load, be listed as fine, and die mid-run with a bare
``NotImplementedError`` or ``TypeError``; refused at load, it costs one line instead.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable


def abstract_methods(base: type) -> dict[str, Callable[..., Any]]:
    """The methods ``base`` declares but leaves to subclasses (they only raise NotImplementedError)."""
    found = {}
    for name, function in vars(base).items():
        code = getattr(function, "__code__", None)
        if code is not None and "NotImplementedError" in code.co_names and len(code.co_code) < 24:
            found[name] = function
    return found


def _shape(function: Callable[..., Any]) -> tuple[int, set[str], set[str], bool, bool]:
    """(positional parameters, keyword-only names, names a keyword may fill, *args, **kwargs)."""
    parameters = [p for p in inspect.signature(function).parameters.values() if p.name not in ("self", "cls")]
    positional = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)
    keyword_only = {p.name for p in parameters if p.kind == p.KEYWORD_ONLY}
    by_keyword = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return (positional, keyword_only, by_keyword, any(p.kind == p.VAR_POSITIONAL for p in parameters),
            any(p.kind == p.VAR_KEYWORD for p in parameters))


def problems(component: type, base: type) -> list[str]:
    """What ``component`` lacks of ``base``'s surface (empty when it conforms)."""
    found = []
    for name, declared in abstract_methods(base).items():
        given = getattr(component, name, None)
        if given is None or given is declared:
            found.append(f"{name}() is not implemented")
            continue
        positional, keyword_only, _, _, _ = _shape(declared)
        takes, _, by_keyword, any_positional, any_keyword = _shape(given)
        call = ", ".join([*(p for p in inspect.signature(declared).parameters if p not in ("self", "cls"))])
        missing = sorted(keyword_only - by_keyword)
        if (missing and not any_keyword) or (takes < positional and not any_positional):
            what = f"does not take {', '.join(missing)}" if missing and not any_keyword else "takes too few arguments"
            found.append(f"{name}() {what} (harness calls {name}({call}))")
    return found
