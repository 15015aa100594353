"""MkDocs hook: the reference pages, generated from the code at every build.

Three pages are written while the site builds and never stored in the repository,
so they cannot fall behind the code they describe:

- ``reference/configuration.md``: every key of the run config, walked from the
  pydantic model ``harness.config.RunConfig`` and the models nested in it: its dotted
  path, type, default and what it does (the field's ``description`` when it has one,
  else the comments written beside the field in the source);
- ``reference/cli.md``: every command of ``harness.cli.build_parser()`` with its usage,
  description, arguments and the epilog (exit codes and an example);
- ``reference/hooks.md``: every hook specification in ``harness.hookspecs``.

mkdocs.yml names this file under ``hooks:``; ``tests/test_docs.py`` builds the site.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import io
import os
import sys
import textwrap
import tokenize
import typing
from pathlib import Path
from types import UnionType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the checkout's harness, also when it is not installed
    sys.path.insert(0, str(ROOT))

PAGES = {
    "reference/configuration.md": "configuration_page",
    "reference/cli.md": "cli_page",
    "reference/hooks.md": "hooks_page",
    "reference/verdict.md": "verdict_page",
}

GENERATED_NOTE = ("*Generated from the code when this site is built ({source}); "
                  "edit the code, not this page.*")


def page_opening(title: str, source: str) -> list[str]:
    """The lines every generated page starts with: its title and where it is generated from."""
    return [f"# {title}", "", GENERATED_NOTE.format(source=source), ""]


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for uri, builder in PAGES.items():
        files.append(File.generated(config, uri, content=globals()[builder]()))
    return files


# --- configuration -------------------------------------------------------------------------------


def _is_model(annotation: Any) -> bool:
    from pydantic import BaseModel

    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _args(annotation: Any) -> tuple[Any, ...]:
    return typing.get_args(annotation)


def _without_none(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, UnionType):
        return [a for a in _args(annotation) if a is not type(None)]
    return [annotation]


def type_name(annotation: Any) -> str:
    """A type as a reader writes it in YAML terms: ``int``, ``"a" | "b"``, ``list[str] | None``."""
    origin = typing.get_origin(annotation)
    if annotation is type(None):
        return "None"
    if annotation is typing.Any:
        return "any"
    if origin is typing.Literal:  # the values as YAML writes them
        return " | ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in _args(annotation))
    if origin in (typing.Union, UnionType):  # None is "unset" in the default column, not a type
        return " | ".join(type_name(a) for a in _without_none(annotation))
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_name(a) for a in _args(annotation))}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _default(field: Any) -> str:
    from pydantic_core import PydanticUndefined

    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is PydanticUndefined:
        return "required"
    if hasattr(value, "model_dump"):
        if _is_component(type(value)):  # a component by name, with any options it was given
            options = value.model_dump(exclude_none=True)
            name = options.pop("name")
            return name if not options else str({"name": name, **options}).replace("'", '"')
        return "its keys' defaults"
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value
    return str(value).replace("'", '"')


def _constraints(field: Any) -> str:
    """Bounds and patterns pydantic checks (``Field(gt=0)``), as a reader writes them."""
    signs = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
    found = []
    for item in field.metadata:
        for attribute, sign in signs.items():
            value = getattr(item, attribute, None)
            if value is not None:
                found.append(f"{sign} {value}")
        pattern = getattr(item, "pattern", None)
        if pattern:
            found.append(f"matching `{pattern}`")
    return ", ".join(found)


def _is_component(cls: type) -> bool:
    """A component reference: a name plus that component's own options (``ComponentRef``)."""
    return _is_model(cls) and cls.model_config.get("extra") == "allow"


def _own_keys(cls: type) -> bool:
    """Whether a nested model has keys worth a section of their own (a bare component name has not)."""
    return not _is_component(cls) or set(cls.model_fields) - {"name"}


def _kind(annotation: Any) -> str:
    """The type column: a nested model reads as a mapping, a component reference as a name or mapping."""
    parts = []
    for candidate in _without_none(annotation):
        if _is_model(candidate):
            parts.append("name or mapping" if candidate.model_config.get("extra") == "allow" else "mapping")
        elif typing.get_origin(candidate) is list and _args(candidate) and _is_model(_args(candidate)[0]):
            inner = _args(candidate)[0]
            parts.append("list of names or mappings" if inner.model_config.get("extra") == "allow"
                         else "list of mappings")
        else:
            parts.append(f"`{type_name(candidate)}`")
    return " or ".join(parts)


def _source_comments(cls: type) -> dict[str, str]:
    """The comments written above and beside each field of ``cls`` (its own fields only)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    comments: dict[int, str] = {}  # 1-based line -> comment text
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    class_node = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef))
    found: dict[str, str] = {}
    for node in class_node.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above: list[str] = []
        line = node.lineno - 1
        while line >= 1 and lines[line - 1].strip().startswith("#"):
            text = comments.get(line, "")
            if text.startswith("---"):  # a section heading, not about this field
                break
            above.insert(0, text)
            line -= 1
        beside = [comments[n] for n in range(node.lineno, (node.end_lineno or node.lineno) + 1) if n in comments]
        text = " ".join(_sentence(part) for part in (" ".join(above), " ".join(beside)) if part)
        if text:
            found[node.target.id] = text
    return found


def _sentence(text: str) -> str:
    """A source comment as a sentence, ending with a full stop (its first word may be a value: kept as written)."""
    text = text.strip()
    if not text:
        return text
    return text if text[-1] in ".!?)" or text.endswith(")") else text + "."


def _sections(cls: type) -> dict[str, str]:
    """``# --- name`` headings in the class body: the first field under each, and its heading."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    heading = None
    starts: dict[str, str] = {}
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("# ---"):
            heading = stripped.lstrip("#- ").strip()
            continue
        name = stripped.split(":", 1)[0]
        if heading and name.isidentifier() and ":" in stripped:
            starts[name] = heading
            heading = None
    return starts


def _description(cls: type, name: str, field: Any) -> str:
    if field.description:
        return field.description
    for klass in cls.__mro__:  # a field inherited from a parent model is documented there
        if name in getattr(klass, "__annotations__", {}):
            found = _source_comments(klass).get(name)
            if found:
                return found
    return ""


def _md(text: str) -> str:
    """Text for Markdown: outside code spans, ``<``, ``>`` and ``&`` as entities and ``*`` / ``_`` escaped,
    so help such as ``<input stem>`` or ``*.jsonl`` shows as written."""
    parts = text.split("`")
    for index in range(0, len(parts), 2):
        parts[index] = (parts[index].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                        .replace("*", "\\*").replace("_", "\\_"))
    return "`".join(parts)


def _cell(text: str) -> str:
    """One table cell: on one line, a pipe outside code escaped (inside code it is literal)."""
    parts = " ".join(text.split()).split("`")
    return _md("`".join(part if index % 2 else part.replace("|", "\\|") for index, part in enumerate(parts)))


def _model_tables(cls: type, prefix: str, out: list[str], later: list[tuple[type, str]]) -> None:
    rows: list[str] = []
    sections = _sections(cls)

    def flush() -> None:
        if rows:
            out.extend(["| key | type | default | what it does |", "|---|---|---|---|", *rows, ""])
            rows.clear()

    for name, field in cls.model_fields.items():
        if name.startswith("_"):
            continue
        if name in sections:
            flush()
            out.extend([f"### {sections[name]}", ""])
        key = f"{prefix}{field.alias or name}"
        inner = _without_none(field.annotation)
        nested = None
        for candidate in inner:
            if _is_model(candidate):
                nested = (candidate, key)
            elif typing.get_origin(candidate) is list and _args(candidate) and _is_model(_args(candidate)[0]):
                nested = (_args(candidate)[0], f"{key}[]")
        what = _description(cls, name, field)
        if nested and nested[0].__doc__ and not what and not _is_component(nested[0]):
            what = inspect.cleandoc(nested[0].__doc__).split("\n\n")[0]
        if nested and _is_component(nested[0]):
            what = (what + " " if what else "") + COMPONENT_NOTE
        if nested and _own_keys(nested[0]):
            what = (what + " " if what else "") + f"Its keys: [`{nested[1]}`](#{_anchor(nested[1])})."
            later.append(nested)
        kind = _kind(field.annotation)
        bounds = _constraints(field)
        if bounds:
            kind += f", {bounds}"
        default = _default(field)
        default = default if default in ("required", "unset", "its keys' defaults") else f"`{default}`"
        rows.append(f"| `{key}` | {_cell(kind)} | {default} | {_cell(what)} |")
    flush()


def _anchor(key: str) -> str:
    return "".join(c for c in key.lower() if c.isalnum() or c in "-_") or "top"


COMPONENT_NOTE = ("A component's name, or a mapping with `name:` whose other keys are that component's "
                  "options (checked against its typed options; `harness plugins` lists them).")


def configuration_page() -> str:
    from harness.config import RunConfig

    out = [
        *page_opening("Configuration reference",
                      "`harness.config.RunConfig` and the models nested in it"),
        "Every key a run config accepts, as a dotted path. A key inside a list of mappings is "
        "written `list[].key`. *unset* means the key has no value until you give one (harness then "
        "decides, as the description says). Axolotl's own names for keys are read too: "
        "[Axolotl keys](../axolotl-keys.md) says what becomes of each. "
        "[Configuration](../configuration.md) explains the sections with examples.",
        "",
        "## Top-level keys",
        "",
    ]
    if RunConfig.__doc__:
        out.extend([inspect.cleandoc(RunConfig.__doc__), ""])
    later: list[tuple[type, str]] = []
    _model_tables(RunConfig, "", out, later)
    seen: set[str] = set()
    while later:
        cls, key = later.pop(0)
        if key in seen:
            continue
        seen.add(key)
        out.extend([f"## `{key}`", ""])
        if _is_component(cls):
            out.extend([COMPONENT_NOTE, ""])
        elif cls.__doc__:
            out.extend([inspect.cleandoc(cls.__doc__), ""])
        nested: list[tuple[type, str]] = []
        _model_tables(cls, f"{key}.", out, nested)
        later = nested + later
    return "\n".join(out) + "\n"


def missing_descriptions() -> list[str]:
    """Dotted keys with neither a ``description`` nor a comment in the source (for maintainers)."""
    from harness.config import RunConfig

    missing: list[str] = []
    todo: list[tuple[type, str]] = [(RunConfig, "")]
    while todo:
        cls, prefix = todo.pop(0)
        for name, field in cls.model_fields.items():
            key = f"{prefix}{field.alias or name}"
            for candidate in _without_none(field.annotation):
                if _is_model(candidate):
                    todo.append((candidate, f"{key}."))
                elif typing.get_origin(candidate) is list and _args(candidate) and _is_model(_args(candidate)[0]):
                    todo.append((_args(candidate)[0], f"{key}[]."))
            if not _description(cls, name, field):
                missing.append(key)
    return missing


# --- command line --------------------------------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _summaries(parser: argparse.ArgumentParser) -> dict[str, str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {choice.dest: choice.help or "" for choice in action._choices_actions}
    return {}


def _local(text: str) -> str:
    """Paths under this checkout as a reader's checkout has them (relative), not this machine's."""
    return text.replace(str(ROOT) + os.sep, "").replace(str(ROOT), ".")


def _expand(text: str, action: argparse.Action | None, parser: argparse.ArgumentParser) -> str:
    """Help text as ``--help`` prints it: ``%(default)s`` and the like filled in, ``%%`` as ``%``."""
    params = {**vars(action), "prog": parser.prog} if action is not None else {"prog": parser.prog}
    if params.get("choices") is not None:
        params["choices"] = ", ".join(map(str, params["choices"]))
    try:
        text = text % params
    except (KeyError, TypeError, ValueError):
        text = text.replace("%%", "%")
    return _local(" ".join(text.split()))


def _argument_lines(parser: argparse.ArgumentParser) -> list[str]:
    lines: list[str] = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            metavar = ""
            if action.nargs != 0:
                metavar = " " + (action.metavar or (
                    "{" + ",".join(map(str, action.choices)) + "}" if action.choices else action.dest.upper()))
                if isinstance(metavar, tuple):
                    metavar = " " + " ".join(metavar)
            name = ", ".join(action.option_strings) + metavar
        else:
            name = action.metavar or action.dest
        text = _expand(action.help or "", action, parser)
        if action.default not in (None, False, [], argparse.SUPPRESS) and "default" not in text.lower():
            text = (text + " " if text else "") + f"(default: `{_local(str(action.default))}`)"
        lines.append(f"- `{name}`" + (f": {_md(text)}" if text else ""))
    return lines


def _command(out: list[str], name: str, parser: argparse.ArgumentParser, summary: str, level: str) -> None:
    out.extend([f"{level} `{name}`", ""])
    summary = _expand(summary, None, parser)
    if summary:
        out.extend([_md(summary[0].upper() + summary[1:] + ("" if summary.endswith(".") else ".")), ""])
    out.extend(["```text", parser.format_usage().strip(), "```", ""])
    description = _expand(parser.description or "", None, parser)
    if description and description.rstrip(".") != summary.rstrip("."):
        out.extend([_md(description), ""])
    arguments = _argument_lines(parser)
    if arguments:
        out.extend(["Arguments:", "", *arguments, ""])
    children = _subparsers(parser)
    child_summaries = _summaries(parser)
    for child_name, child in children.items():
        _command(out, f"{name} {child_name}", child, child_summaries.get(child_name, ""), level + "#")
    if parser.epilog:
        out.extend(["```text", _local(parser.epilog.strip("\n")), "```", ""])


def cli_page() -> str:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps usage lines to the terminal's width
    try:
        from harness.cli import build_parser

        parser = build_parser()
        out = [
            *page_opening("Command-line reference",
                          "the argparse parsers of `harness.cli.build_parser()`"),
            "Every command prints the same text with `harness COMMAND --help`; each ends with its exit "
            "codes and an example.",
            "",
            "```text",
            parser.format_usage().strip(),
            "```",
            "",
            parser.description or "",
            "",
            "Options of `harness` itself, given before the command:",
            "",
            *_argument_lines(parser),
            "",
        ]
        summaries = _summaries(parser)
        for name, command in _subparsers(parser).items():
            _command(out, f"harness {name}", command, summaries.get(name, ""), "##")
        return "\n".join(out) + "\n"
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


# --- plugin hooks --------------------------------------------------------------------------------


def _signature(function: Any) -> str:
    signature = inspect.signature(function)
    params = []
    for param in signature.parameters.values():
        annotation = param.annotation
        text = param.name
        if annotation is not inspect.Parameter.empty:
            text += f": {annotation if isinstance(annotation, str) else type_name(annotation)}"
        params.append(text)
    returns = signature.return_annotation
    tail = "" if returns is inspect.Signature.empty else f" -> {returns if isinstance(returns, str) else type_name(returns)}"
    return f"def {function.__name__}({', '.join(params)}){tail}"


def hooks_page() -> str:
    import harness.hookspecs as specs

    out = [
        *page_opening("Plugin hooks reference", "`harness.hookspecs`"),
        inspect.cleandoc(specs.__doc__ or ""),
        "",
        "[Writing a plugin](../plugins.md) shows a whole plugin.",
        "",
    ]
    hooks = [(name, function) for name, function in inspect.getmembers(specs, inspect.isfunction)
             if name.startswith("harness_")]
    for name, function in sorted(hooks, key=lambda pair: pair[1].__code__.co_firstlineno):  # as the source orders them
        options = getattr(function, f"{specs.PROJECT}_spec", None)
        firstresult = bool(options and options.get("firstresult"))
        out.extend([f"## `{name}`", "", "```python", _signature(function), "```", ""])
        if firstresult:
            out.extend(["*Single answer: the first implementation that returns something other than "
                        "`None` decides.*", ""])
        out.extend([inspect.cleandoc(function.__doc__ or ""), ""])
    return "\n".join(out) + "\n"


# --- the verdict file ----------------------------------------------------------------------------


def verdict_page() -> str:
    import json

    from harness import run_record

    out = [
        *page_opening("The verdict file", "`harness.run_record`"),
        inspect.cleandoc(run_record.__doc__ or ""),
        "",
        f"Every `verdict.json` names its layout: `\"schema\": \"{run_record.VERDICT_SCHEMA}\"`. "
        "`harness gate` reads it (see [Gating in CI](../ci.md)); reports and the model card are "
        "rendered from it. Its JSON schema, generated from the record:",
        "",
        "```json",
        json.dumps(run_record.json_schema(), indent=2),
        "```",
    ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # python docs/hooks/reference.py [configuration|cli|hooks|verdict|missing]
    which = sys.argv[1] if len(sys.argv) > 1 else "configuration"
    if which == "missing":
        print("\n".join(missing_descriptions()))
    else:
        print({"configuration": configuration_page, "cli": cli_page, "hooks": hooks_page,
               "verdict": verdict_page}[which]())
