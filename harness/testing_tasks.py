"""Run lm-eval's real task definitions offline, on small local documents.

A test that wants to exercise a real lm-eval task (its prompt, metrics, filters,
generation settings and few-shot setup exactly as lm-eval ships them) cannot
download the task's data set on a machine without the Hugging Face Hub. This
module swaps only where the documents come from: for each task it writes a tiny
YAML that ``include:``-s the installed definition by absolute path and overrides
the data source (``dataset_path: json`` with ``data_files`` pointing at JSONL
files written next to it). The YAML keeps the task's name, so
``lm_eval.tasks.TaskManager(include_path=folder)`` finds it after lm-eval's own
tasks and the local definition wins; groups (``mmlu``, ``bbh``) resolve their
leaves by name through the same index, so they load local data too once every
leaf is overridden::

    from harness.testing_tasks import write_local_tasks
    folder = write_local_tasks({"commonsense_qa": {"validation": [...], "train": [...]}}, tmp)
    TaskManager(include_path=str(folder)).load(["commonsense_qa"])

Only the standard library and PyYAML are imported here; lm-eval is imported the
first time a function needs its index of installed tasks (a few seconds, cached).
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "installed_task_config",
    "installed_task_yaml",
    "leaf_tasks",
    "task_splits",
    "write_local_task",
    "write_local_tasks",
]

# The config keys that name a split (which of them lm-eval reads: see task_splits).
_SPLIT_KEYS = ("test_split", "validation_split", "training_split", "fewshot_split")
# Where the datasets library caches the JSONL it converted, inside the task folder,
# so a test's temporary folder takes its cache with it.
_CACHE_DIR_NAME = ".datasets_cache"


@functools.lru_cache(maxsize=1)
def _installed_index() -> dict[str, Any]:
    """lm-eval's index of its own tasks, groups and tags (built once: ~4 s)."""
    import lm_eval.tasks
    from lm_eval.tasks._index import TaskIndex

    return TaskIndex.build([Path(lm_eval.tasks.__file__).parent])


def _installed_entry(name: str) -> Any:
    """The installed index entry for ``name``; a clear error when lm-eval has none."""
    entry = _installed_index().get(name)
    if entry is None:
        raise ValueError(f"lm-eval {_lm_eval_version()} has no task, group or tag named {name!r}")
    return entry


def _lm_eval_version() -> str:
    from importlib.metadata import version

    return version("lm_eval")


def _installed_task_entry(task: str) -> Any:
    """The entry of a leaf task defined by YAML data (the only kind whose data can be swapped)."""
    from lm_eval.tasks._index import Kind

    entry = _installed_entry(task)
    if entry.kind in (Kind.GROUP, Kind.TAG):
        raise ValueError(
            f"{task!r} is a {entry.kind.name.lower()}, not a task: override its leaves "
            f"instead (leaf_tasks({task!r}) lists them)"
        )
    if entry.kind is not Kind.TASK or entry.yaml_path is None:
        raise ValueError(
            f"{task!r} is defined by a Python class; its data source cannot be swapped by YAML"
        )
    return entry


def installed_task_yaml(task: str) -> Path:
    """The YAML file in lm-eval's installed ``tasks/`` folder that defines ``task``."""
    return Path(_installed_task_entry(task).yaml_path)


def installed_task_config(task: str) -> dict[str, Any]:
    """The installed definition of ``task`` with its includes merged (``!function`` left unresolved).

    A copy, so callers may change it freely.
    """
    return copy.deepcopy(_installed_task_entry(task).cfg)


def leaf_tasks(name: str) -> list[str]:
    """Every leaf task a task, group or tag name expands to in the installed lm-eval, sorted.

    Groups list their members by task name, tag or sub-group; overriding each leaf
    returned here is what makes the whole group load local data.
    """
    from lm_eval.tasks._index import Kind

    entry = _installed_entry(name)
    if entry.kind is Kind.TAG:
        return sorted({leaf for member in entry.tags for leaf in leaf_tasks(member)})
    if entry.kind is Kind.GROUP:
        return sorted({leaf for member in _group_members(entry.cfg) for leaf in leaf_tasks(member)})
    return [name]


def _group_members(group_cfg: dict[str, Any]) -> list[str]:
    """The names a group's ``task:`` list refers to (inline sub-groups are flattened)."""
    names: list[str] = []
    for item in group_cfg.get("task", []):
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and "group" in item and item["group"] not in _installed_index():
            names.extend(_group_members(item))
        elif isinstance(item, dict):
            names.append(item.get("group") or item["task"])
    return names


def _named_splits(cfg: dict[str, Any]) -> set[str]:
    """Every split name the definition mentions (some may never be read)."""
    named = {cfg[key] for key in _SPLIT_KEYS if cfg.get(key)}
    fewshot_split = (cfg.get("fewshot_config") or {}).get("split")
    return named | ({fewshot_split} if fewshot_split else set())


def _eval_split(cfg: dict[str, Any]) -> str:
    """The split lm-eval scores: the test split, else the validation split."""
    split = cfg.get("test_split") or cfg.get("validation_split")
    if not split:
        raise ValueError(f"task {cfg.get('task')!r} names neither a test nor a validation split")
    return split


def _fewshot_source_split(cfg: dict[str, Any]) -> str | None:
    """The split lm-eval reads few-shot examples from, or None when they are inline.

    Mirrors ConfigurableTask.fewshot_docs(), which runs when the task is built, even at
    0 shots: the few-shot split, else inline ``samples``, else train, validation, test.
    """
    fewshot_config = cfg.get("fewshot_config") or {}
    split = fewshot_config.get("split") or cfg.get("fewshot_split")
    if split:
        return split
    if fewshot_config.get("samples") is not None:
        return None
    return cfg.get("training_split") or cfg.get("validation_split") or cfg.get("test_split")


def task_splits(task: str) -> list[str]:
    """The splits the installed definition of ``task`` reads: the scored split, then the few-shot one.

    Both are read as soon as lm-eval builds the task (few-shot documents are loaded even
    for a 0-shot run), so a local definition needs documents for each.
    """
    cfg = installed_task_config(task)
    splits = [_eval_split(cfg)]
    fewshot = _fewshot_source_split(cfg)
    if fewshot and fewshot not in splits:
        splits.append(fewshot)
    return splits


def _check_docs(task: str, docs: dict[str, list[dict]]) -> None:
    """Refuse documents that would make the local task fail later with a less clear error."""
    cfg = installed_task_config(task)
    for split in task_splits(task):
        if not docs.get(split):
            raise ValueError(
                f"docs for {task!r} miss split {split!r}, which lm-eval reads for this task "
                f"(it needs {task_splits(task)})"
            )
    unknown = set(docs) - _named_splits(cfg)
    if unknown:
        raise ValueError(
            f"docs for {task!r} have split(s) {sorted(unknown)} that its definition never names "
            f"(it names {sorted(_named_splits(cfg))})"
        )
    for split, rows in docs.items():
        if not rows:
            raise ValueError(f"docs for {task!r} split {split!r} are empty")


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8"
    )
    return path


def _local_definition(task: str, data_files: dict[str, str], cache_dir: Path) -> dict[str, Any]:
    """The YAML body: the installed definition, included whole, with a local data source.

    ``tag: []`` keeps the local file out of tag membership: the installed tag entries
    (which list their tasks by name) stay as they are and resolve, by name, to the
    local definitions, so overriding only some of a group's leaves never silently
    shrinks the group. Tags play no part in the task's own config (lm-eval drops them
    when it builds a task).
    """
    cfg = installed_task_config(task)
    body: dict[str, Any] = {
        "include": str(installed_task_yaml(task)),
        "task": task,
        "dataset_path": "json",
        "dataset_name": None,
        "dataset_kwargs": {"data_files": data_files, "cache_dir": str(cache_dir)},
    }
    if "tag" in cfg:
        body["tag"] = []
    if cfg.get("custom_dataset") is not None:
        body["custom_dataset"] = None
    return body


def write_local_task(task: str, docs: dict[str, list[dict]], folder: Path) -> Path:
    """Write lm-eval task ``task`` into ``folder``, reading ``docs`` instead of its data set.

    ``docs`` maps split names, as the task's YAML names them, to documents of the data
    set's schema; every split ``task_splits(task)`` lists is required. Writes
    ``folder/<task>/<task>.yaml`` and one ``<split>.jsonl`` per split beside it; returns
    the YAML's path. Pass ``folder`` to ``TaskManager(include_path=...)``.
    """
    _check_docs(task, docs)
    task_dir = Path(folder).resolve() / task
    task_dir.mkdir(parents=True, exist_ok=True)
    data_files = {
        split: str(_write_jsonl(task_dir / f"{split}.jsonl", rows)) for split, rows in docs.items()
    }
    definition = _local_definition(task, data_files, Path(folder).resolve() / _CACHE_DIR_NAME)
    yaml_path = task_dir / f"{task}.yaml"
    yaml_path.write_text(
        "# Written by harness.testing_tasks: lm-eval's own definition, local documents.\n"
        + yaml.safe_dump(definition, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return yaml_path


def write_local_tasks(docs_by_task: dict[str, dict[str, list[dict]]], folder: Path) -> Path:
    """Write several local tasks (see :func:`write_local_task`) into ``folder``; returns ``folder``."""
    folder = Path(folder)
    for task, docs in docs_by_task.items():
        write_local_task(task, docs, folder)
    return folder
