"""Token ids for training, batched with as little padding as possible.

Examples are tokenized once, up front (the loop never re-tokenizes). Batches are
padded only to their own longest row, and the sampler groups rows of similar
length into the same micro-batch, so little compute is spent on padding. The
order is a pure function of (seed, epoch): a resumed run sees the same batches
as an uninterrupted one.

Under a launcher every rank draws this same order, and the trainer's dataloader
(accelerate's ``BatchSamplerShard``) deals its micro-batches round-robin: rank r
trains micro-batches r, r + W, r + 2W, ... of W ranks. So an optimizer step
covers the same examples as W x gradient_accumulation_steps micro-batches in one
process, the ranks' shares are disjoint, and when the micro-batches do not divide
evenly the last ranks' final micro-batch is topped up from the start of the
epoch (as torch's ``DistributedSampler`` pads), so every rank takes the same
number of steps. :func:`rank_batches` shows a rank its share.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch

from harness.errors import UsageError
from harness.records import Example
from harness.data.tokenize import IGNORE_INDEX, encode


class TokenizedDataset(torch.utils.data.Dataset):
    """Encoded examples (``input_ids`` and ``labels`` lists), with their lengths."""

    def __init__(self, rows: list[dict[str, list[int]]]) -> None:
        self.rows = rows
        self.lengths = [len(r["input_ids"]) for r in rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self.rows[index]


def tokenize_examples(
    examples: Sequence[Example], tokenizer: Any, *, max_length: int, train_on: str = "assistant"
) -> TokenizedDataset:
    """Encode every example; an example with nothing to learn from is an error naming its origin."""
    rows = []
    for example in examples:
        encoded = encode(example, tokenizer, max_length=max_length, train_on=train_on)  # type: ignore[arg-type]
        if encoded.trained_tokens == 0:
            where = example.origin or "an example"
            reason = "it was truncated before its first assistant token" if encoded.truncated else "it has no assistant turn"
            raise UsageError(f"{where}: no tokens to train on ({reason}; sequence_len={max_length})")
        rows.append({"input_ids": encoded.input_ids, "labels": encoded.labels})
    return TokenizedDataset(rows)


@dataclass
class PaddingCollator:
    """Pads a micro-batch to its longest row (or to ``pad_to``: Axolotl's pad_to_sequence_len)."""

    pad_token_id: int
    pad_to_multiple_of: int | None = None
    pad_to: int | None = None

    def __call__(self, rows: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        longest = max([len(r["input_ids"]) for r in rows] + [self.pad_to or 0])
        if self.pad_to_multiple_of:
            longest = -(-longest // self.pad_to_multiple_of) * self.pad_to_multiple_of
        ids = torch.full((len(rows), longest), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(rows), longest), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            ids[i, :n] = torch.tensor(row["input_ids"])
            labels[i, :n] = torch.tensor(row["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}


class LengthGroupedSampler(torch.utils.data.Sampler[int]):
    """Shuffles, then sorts within windows so each micro-batch holds rows of similar length.

    Windows of ``window_batches`` micro-batches keep the order random at a coarse
    scale; the micro-batches are shuffled again so long ones do not always come
    first. Everything is drawn from ``seed + epoch``.
    """
    # Known cost: the one short micro-batch (the tail of the last window) lands
    # anywhere in the shuffle, so the dataloader's later cuts straddle two groups and
    # pad a little more. Moving it last changes every seed's order (and the README
    # demo's numbers), so it waits for a demo re-run.

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, window_batches: int = 16) -> None:
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.window = max(1, window_batches) * batch_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        batches = []
        for start in range(0, len(order), self.window):
            window = sorted(order[start:start + self.window], key=lambda i: -self.lengths[i])
            batches += [window[i:i + self.batch_size] for i in range(0, len(window), self.batch_size)]
        rng.shuffle(batches)
        return iter([i for batch in batches for i in batch])


class SeededRandomSampler(LengthGroupedSampler):
    """A plain shuffle drawn from ``seed + epoch`` (for when length grouping is off)."""

    def __iter__(self) -> Iterator[int]:
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        return iter(order)


def rank_batches(sampler: torch.utils.data.Sampler[int], batch_size: int, rank: int, world_size: int) -> list[list[int]]:
    """The micro-batches rank ``rank`` of ``world_size`` trains in one epoch, as the trainer's dataloader deals them."""
    from accelerate.data_loader import prepare_data_loader

    loader = torch.utils.data.DataLoader(range(len(sampler)), batch_size=batch_size, sampler=sampler,
                                         collate_fn=list)
    shard = prepare_data_loader(loader, num_processes=world_size, process_index=rank, put_on_device=False)
    shard.set_epoch(getattr(sampler, "epoch", 0))  # as the trainer does each epoch (a fresh loader says 0)
    return list(shard)


def batch_token_counts(batch: dict[str, torch.Tensor]) -> tuple[int, int]:
    """(real tokens, all slots) in a collated batch (a packed batch says its padding as ``padded_slots``)."""
    mask = batch.get("attention_mask")
    total = int(batch["input_ids"].numel())
    if "padded_slots" in batch:
        return total - int(batch["padded_slots"]), total
    real = int(mask.sum()) if mask is not None and mask.dim() == 2 else total
    return real, total
