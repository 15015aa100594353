"""Axolotl's ``sample_packing``: several short examples share one row of up to ``sequence_len`` tokens.

Each packed row is the examples' tokens one after another, with position ids that
start again at 0 for every example. transformers reads a restart in the position
ids as the border of a packed sequence and builds the mask so that a token sees
only the earlier tokens of its own example (``masking_utils``, for eager, SDPA and
flash attention alike): each example's logits are what they would be alone in its
own row. The first token of every example after the first carries no label, so
no example is trained to follow on from the one before it.

Rows are filled first-fit by decreasing length (best fit, so the long examples are
placed first and the short ones fill the gaps), from an order drawn from the seed:
the same data and seed give the same rows, and a resumed run sees the rows the
interrupted one did. The sampler then shuffles whole rows each epoch.

``pad_to_sequence_len`` pads every micro-batch to ``sequence_len`` so each step has
the same shapes (constant buffer sizes on a GPU); the padding is a sequence of its
own, restarted positions and no labels, so it changes no logit of a real token.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass

import torch

from harness.data.tokenize import IGNORE_INDEX
from harness.training.data import TokenizedDataset


def pack_rows(dataset: TokenizedDataset, capacity: int, seed: int) -> TokenizedDataset:
    """The examples of ``dataset`` packed into rows of at most ``capacity`` tokens."""
    order = list(range(len(dataset)))
    random.Random(seed).shuffle(order)  # ties in length keep a seeded order, not the file's
    order.sort(key=lambda i: -dataset.lengths[i])
    rooms: list[tuple[int, int]] = []  # (room left, row number), kept sorted: best fit is a bisect
    rows: list[list[int]] = []
    for index in order:
        length = min(dataset.lengths[index], capacity)
        at = bisect.bisect_left(rooms, (length, -1))
        if at == len(rooms):
            room, row = capacity, len(rows)
            rows.append([])
        else:
            room, row = rooms.pop(at)
        rows[row].append(index)
        if room - length > 0:
            bisect.insort(rooms, (room - length, row))
    return TokenizedDataset([_packed_row([dataset[i] for i in members]) for members in rows])


def _packed_row(examples: list[dict[str, list[int]]]) -> dict[str, list[int]]:
    input_ids: list[int] = []
    labels: list[int] = []
    position_ids: list[int] = []
    for example in examples:
        labels += [IGNORE_INDEX] + example["labels"][1:] if input_ids else example["labels"]
        input_ids += example["input_ids"]
        position_ids += range(len(example["input_ids"]))
    return {"input_ids": input_ids, "labels": labels, "position_ids": position_ids,
            "examples": [len(e["input_ids"]) for e in examples]}


@dataclass
class PackedRowsCollator:
    """Packed rows (or plain ones, ``pad_to`` set) padded to a common width, with position ids.

    No attention mask goes to the model: with none, transformers separates the packed
    examples by their position ids. ``padded_slots`` (popped by the trainer before the
    forward pass) says how much of the batch is padding, for the throughput figures.
    """

    pad_token_id: int
    pad_to: int | None = None

    def __call__(self, rows: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(r["input_ids"]) for r in rows)
        if self.pad_to:
            width = max(width, self.pad_to)
        ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        # Padding restarts at position 0: a sequence of its own that no real token sees.
        positions = torch.arange(width, dtype=torch.long).repeat(len(rows), 1)
        padded = 0
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            ids[i, :n] = torch.tensor(row["input_ids"])
            labels[i, :n] = torch.tensor(row["labels"])
            positions[i, :n] = torch.tensor(row.get("position_ids") or range(n))
            positions[i, n:] = torch.arange(width - n)
            padded += width - n
        return {"input_ids": ids, "labels": labels, "position_ids": positions,
                "padded_slots": torch.tensor(padded)}


def packing_summary(plain: TokenizedDataset, packed: TokenizedDataset, capacity: int) -> str:
    """One line: how many examples went into how many rows, and how full the rows are."""
    fill = sum(packed.lengths) / max(len(packed) * capacity, 1)
    return (f"sample_packing: {len(plain)} examples in {len(packed)} rows of up to {capacity} tokens "
            f"({fill:.0%} full)")


__all__ = ["PackedRowsCollator", "pack_rows", "packing_summary"]
