"""The token rows a run trains and validates on: tokenized, packed, and kept on disk when asked.

``dataset_prepared_path`` (Axolotl's key) names a folder where the prepared rows are
saved (an Arrow data set per set of rows) under a key computed from everything that
decides them: the examples' content and order, the tokenizer (vocabulary, special
tokens, chat template), ``sequence_len``, ``train_on``, and for packed rows the
packing seed. A later run (another round on the same data, a resumed run, a
second config over the same file) that would compute the same rows loads them
instead; anything different gets a new key, so a stale copy is never read.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Sequence

from harness import distributed
from harness.records import Example
from harness.data.examples import examples_digest
from harness.training.data import TokenizedDataset, tokenize_examples
from harness.training.sample_packing import pack_rows, packing_summary


def eval_packing(config: Any) -> bool:
    """Axolotl's eval_sample_packing: unset, it follows sample_packing."""
    chosen = getattr(config, "eval_sample_packing", None)
    return bool(getattr(config, "sample_packing", False) if chosen is None else chosen)


def prepared_rows(examples: Sequence[Example], tokenizer: Any, config: Any, *, packed: bool,
                  role: str) -> TokenizedDataset:
    """``examples`` as token rows (packed into ``sequence_len`` rows when ``packed``), from
    ``dataset_prepared_path`` when an earlier run prepared the very same rows."""
    folder = _cache_folder(examples, tokenizer, config, packed)
    if folder is not None and (folder / "dataset_info.json").is_file():
        rows = _load(folder)
        if distributed.is_main():
            print(f"dataset_prepared_path: {role} rows read from {folder}")
        return rows
    rows = tokenize_examples(examples, tokenizer, max_length=config.sequence_len, train_on=config.train_on)
    if packed:
        plain, rows = rows, pack_rows(rows, config.sequence_len, config.seed)
        if distributed.is_main():
            print(f"{packing_summary(plain, rows, config.sequence_len)} ({role})")
    if folder is not None and distributed.is_main():
        _save(rows, folder)
        print(f"dataset_prepared_path: {role} rows kept in {folder}")
    return rows


def _cache_folder(examples: Sequence[Example], tokenizer: Any, config: Any, packed: bool) -> Path | None:
    given = getattr(config, "dataset_prepared_path", None)
    if not given:
        return None
    root = config.resolve_path(given) if hasattr(config, "resolve_path") else Path(given)
    decided_by = {
        "examples": examples_digest(examples),
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "sequence_len": config.sequence_len,
        "train_on": config.train_on,
        "packed_with_seed": config.seed if packed else None,
        "format": 1,  # the row layout below; raise it when that changes
    }
    key = hashlib.sha256(json.dumps(decided_by, sort_keys=True).encode()).hexdigest()[:20]
    return root / key


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A SHA-256 of what decides a tokenizer's ids: its vocabulary and rules, special tokens and chat template."""
    digest = hashlib.sha256()
    backend = getattr(tokenizer, "backend_tokenizer", None)
    digest.update(backend.to_str().encode() if backend is not None else json.dumps(
        sorted(tokenizer.get_vocab().items())).encode())
    digest.update(json.dumps({"template": getattr(tokenizer, "chat_template", None), "size": len(tokenizer),
                              "special": tokenizer.special_tokens_map}, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _save(rows: TokenizedDataset, folder: Path) -> None:
    import datasets

    staging = folder.with_name(folder.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows.rows).save_to_disk(str(staging))
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)  # whole or absent: a crash mid-save leaves only the staging folder


def _load(folder: Path) -> TokenizedDataset:
    import datasets

    return TokenizedDataset(datasets.load_from_disk(str(folder)).to_list())


__all__ = ["eval_packing", "prepared_rows", "tokenizer_fingerprint"]
