"""Reading data files through formatters, with validation that names file and line.

A data file is JSONL (one record a line) or a JSON array. Every record goes
through one formatter (named, or detected from the records) into an
:class:`~harness.Example`, and then through checks that make it fit for
training (it ends with an assistant turn, it has a user turn). Bad records are
never dropped quietly: by default loading fails listing every bad line; with
``on_error="skip"`` they go, verbatim, to a rejects file and are counted.

This is a public helper module: plugins may import it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence, TypeVar

from harness.components import Formatter
from harness.errors import FormatError, UsageError
from harness.records import DataSource, Example

OnError = Literal["fail", "skip"]
SHOWN_PROBLEMS = 20
T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    """One bad record: where it is, why it was refused, and its text as read."""

    origin: str
    reason: str
    raw: str = ""
    line: int = 0

    def __str__(self) -> str:
        return f"{self.origin}: {self.reason}"


class DataValidationError(UsageError):
    """Bad records in a data source: every one listed (the first 20 in the message) with its line."""

    def __init__(self, source: str, problems: list[Problem], what: str = "invalid record", hint: str = "") -> None:
        self.source = source
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:SHOWN_PROBLEMS])
        more = f"\n  ... and {len(problems) - SHOWN_PROBLEMS} more" if len(problems) > SHOWN_PROBLEMS else ""
        plural = "s" if len(problems) != 1 else ""
        hint = hint or "fix them, or skip them with --on-error skip (they are written to a rejects file)"
        super().__init__(f"{source}: {len(problems)} {what}{plural}:\n{shown}{more}\n{hint}")


@dataclass(frozen=True)
class Record:
    """One record as read: its line number, its text, and the decoded value or the decode error."""

    line: int
    raw: str
    value: Any = None
    error: str | None = None


@dataclass
class LoadedData:
    """The valid examples of one source and an account of everything else in it."""

    source: str
    format: str
    examples: list[Example]
    raw: list[str]  # each example's record text, in the same order (for split and rejects)
    problems: list[Problem] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (origin, origin of the first copy)
    rejects_path: Path | None = None
    records: int = 0

    def as_source(self, name: str | None = None, weight: float = 1.0, max_samples: int | None = None) -> DataSource:
        return DataSource(name or self.source, self.examples, weight, max_samples, examples_digest(self.examples))


# ------------------------------------------------------------------------- reading


def read_records(path: Path) -> list[Record]:
    """The records of a JSONL file (blank lines skipped) or of a file holding one JSON array."""
    if not path.is_file():
        raise UsageError(f"data file not found: {path}")
    data = path.read_bytes()
    if data.lstrip()[:1] == b"[":
        return _read_json_array(path, data)
    records = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as error:
            records.append(Record(number, line.decode("utf-8", "replace"), error=f"not valid UTF-8 ({error.reason})"))
            continue
        if not text.strip():
            continue
        try:
            records.append(Record(number, text, json.loads(text)))
        except json.JSONDecodeError as error:
            records.append(Record(number, text, error=f"bad JSON: {error.msg} at column {error.colno}"))
    return records


def _read_json_array(path: Path, data: bytes) -> list[Record]:
    # Decode element by element so each record keeps the line it starts on.
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"{path}: not valid UTF-8 at byte {error.start}") from None
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    records = []
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text):
            raise UsageError(f"{path}: the JSON array is not closed")
        if text[position] == "]":
            return records
        line = text.count("\n", 0, position) + 1
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            # Inside an array there is no next record to resync on: stop here.
            raise UsageError(f"{path}:{error.lineno}: bad JSON: {error.msg} at column {error.colno}") from None
        records.append(Record(line, json.dumps(value, ensure_ascii=False), value))
        position = end


# ---------------------------------------------------------------------- formatters


def detect_format(records: Iterable[Record], harness: Any, source: str = "data") -> str:
    """The formatter most records look like; an error when none or several fit equally."""
    catalog = harness.catalogs["formatter"]
    formatters = {name: catalog.get(name)() for name in catalog.names()}
    votes: Counter[str] = Counter()
    first_keys: list[str] = []
    for record in records:
        if not isinstance(record.value, dict):
            continue
        first_keys = first_keys or sorted(record.value)
        for name, formatter in formatters.items():
            if formatter.detect(record.value):
                votes[name] += 1
    if not votes:
        raise UsageError(
            f"{source}: could not detect the data format (record keys: {', '.join(first_keys) or 'none'}); "
            f"name it with type: / --type, one of: {', '.join(catalog.names())}"
        )
    ranked = votes.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        raise UsageError(f"{source}: records fit both {ranked[0][0]!r} and {ranked[1][0]!r}; name the format with type: / --type")
    return ranked[0][0]


def formatter_for(harness: Any, name: str, options: dict[str, Any] | None = None) -> Formatter:
    """The formatter ``name``, with a data set's own options (Axolotl's ``field_messages``...)."""
    from pydantic import ValidationError

    cls = harness.formatter(name)
    try:
        return cls(cls.Options(**(options or {})))
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise UsageError(f"formatter {name!r}: {problems}") from None


def check_example(example: Example, require_answer: bool = True) -> str | None:
    """Why an example is unfit for training, or ``None`` if it is fine."""
    if not example.is_chat:
        return None if example.text and example.text.strip() else "empty text"
    roles = [m.role for m in example.messages]
    if "user" not in roles:
        return "the conversation has no user turn"
    if require_answer and roles[-1] != "assistant":
        return f"the conversation does not end with an assistant turn (it ends with {roles[-1]})"
    return None


def parse_records(
    records: Sequence[Record],
    harness: Any,
    *,
    source: str,
    type: str | None = None,
    on_error: OnError = "fail",
    rejects_path: Path | None = None,
    require_answer: bool = True,
    label: str = "",
    write_rejects: bool = True,
    formatter_options: dict[str, Any] | None = None,
) -> LoadedData:
    """Records -> examples, validating each; see :func:`load_examples` for the error modes."""
    if on_error not in ("fail", "skip"):
        raise UsageError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
    name = harness.formatter(type).name if type else detect_format(records, harness, source)
    formatter = formatter_for(harness, name, formatter_options)
    others = {n: harness.formatter(n)() for n in harness.catalogs["formatter"].names() if n != name}
    examples, raw, problems = [], [], []
    for record in records:
        origin = f"{source}:{label}{record.line}"
        reason = record.error
        if reason is None:
            try:
                example = formatter.parse(record.value)
                reason = check_example(example, require_answer)
            except FormatError as error:
                reason = str(error)
                looks_like = [n for n, f in others.items() if f.detect(record.value)]
                if looks_like and not formatter.detect(record.value):
                    reason += f" (this record looks like {looks_like[0]!r}, the file is read as {name!r})"
        if reason is not None:
            problems.append(Problem(origin, reason, record.raw, record.line))
            continue
        examples.append(dataclasses.replace(example, origin=origin))
        raw.append(record.raw)
    if problems and on_error == "fail":
        raise DataValidationError(source, problems)
    loaded = LoadedData(source, name, examples, raw, problems, find_duplicates(examples), records=len(records))
    if on_error == "skip" and write_rejects:
        loaded.rejects_path = rejects_path or default_rejects_path(Path(source))
        loaded.rejects_path.parent.mkdir(parents=True, exist_ok=True)
        loaded.rejects_path.write_text("".join(p.raw + "\n" for p in problems), encoding="utf-8")
    return loaded


def default_rejects_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.rejects.jsonl")


def load_examples(
    path: str | Path,
    harness: Any,
    type: str | None = None,
    on_error: OnError = "fail",
    rejects_path: str | Path | None = None,
    require_answer: bool = True,
    formatter_options: dict[str, Any] | None = None,
) -> LoadedData:
    """Read a JSONL / JSON-array file through a formatter (``type``, or detected).

    ``on_error="fail"`` raises :class:`DataValidationError` listing every bad line
    as ``file:line: reason``; ``"skip"`` keeps the good ones and writes the bad
    lines verbatim to ``rejects_path`` (default ``<stem>.rejects.jsonl`` beside the
    input). Exact duplicates are kept and listed in ``LoadedData.duplicates``.
    """
    path = Path(path)
    return parse_records(
        read_records(path), harness, source=str(path), type=type, on_error=on_error,
        rejects_path=Path(rejects_path) if rejects_path else None, require_answer=require_answer,
        formatter_options=formatter_options,
    )


# ------------------------------------------------------------- duplicates, digests


def example_key(example: Example) -> tuple:
    """What makes two examples the same, ignoring where they came from."""
    return (example.messages, example.text, example.trained_spans)


def find_duplicates(examples: Sequence[Example]) -> list[tuple[str, str]]:
    """(origin, origin of its first copy) for each exact repeat."""
    first: dict[tuple, str] = {}
    repeats = []
    for example in examples:
        key = example_key(example)
        if key in first:
            repeats.append((example.origin, first[key]))
        else:
            first[key] = example.origin
    return repeats


def example_record(example: Example) -> dict[str, Any]:
    """A canonical JSON form of an example (ChatML, or ``{"text"}``)."""
    if not example.is_chat:
        spans = {"trained_spans": [list(span) for span in example.trained_spans]} if example.trained_spans else {}
        return {"text": example.text, **spans}
    return {"messages": [{"role": m.role, "content": m.content} for m in example.messages]}


def examples_digest(examples: Iterable[Example]) -> str:
    """A SHA-256 of the examples' content and order, independent of the file format."""
    digest = hashlib.sha256()
    for example in examples:
        digest.update(json.dumps(example_record(example), sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


# -------------------------------------------------------------------------- split


def split_items(items: Sequence[T], train_fraction: float, seed: int) -> tuple[list[T], list[T]]:
    """A deterministic random split: the same items, fraction and seed give the same halves.

    Each half keeps the items' original order. With two or more items and a
    fraction strictly between 0 and 1, neither half is empty.
    """
    if not 0 <= train_fraction <= 1:
        raise UsageError(f"split ratio must be between 0 and 1, got {train_fraction}")
    n = len(items)
    n_train = round(n * train_fraction)
    if n >= 2 and 0 < train_fraction < 1:
        n_train = min(max(n_train, 1), n - 1)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    train_ids = set(order[:n_train])
    return [items[i] for i in range(n) if i in train_ids], [items[i] for i in range(n) if i not in train_ids]


def validation_split(examples: Sequence[Example], val_set_size: float, seed: int) -> tuple[list[Example], list[Example]]:
    """The config's ``val_set_size`` split: (train, validation)."""
    if val_set_size <= 0:
        return list(examples), []
    return split_items(examples, 1 - val_set_size, seed)
