"""A micro-batch as one packed row, with the prompt prefix its rows share computed once.

Domain data usually opens every conversation with the same system prompt, so
the rows of a micro-batch start with the same tokens (on the example data, 83
of a 4 x 168-token micro-batch's columns). A causal model's states at those
positions do not depend on what follows, so the engine can run the micro-batch
as one row: the shared prefix once, then each row's own tokens, unpadded, with
the position ids they had in their row and a 4D mask under which a token sees
the prefix and the earlier tokens of its own row only. Every trained token's
logits, the loss and the gradients equal the padded batch's up to float
rounding (tests/test_packing.py, in float32); gradients into the prefix arrive
summed over the rows, as they would through separate copies.

Two things differ from the padded batch, and both are deliberate:

- LoRA dropout over the prefix is drawn once for the micro-batch instead of once
  per row. Each row's loss has the same distribution as before, so the
  gradient's expectation is unchanged; the rows are correlated through the
  prefix's mask.
- Attention over the packed row is dense: N² (query, key) pairs for N packed
  tokens, where the padded batch has rows x width². :class:`LayerCost` weighs
  that against the projections' work on the tokens packing saves, from the
  model's shape, and the engine packs only where the packed row is cheaper.

The trained positions must all lie after the prefix (with ``train_on:
assistant`` they do: the prefix is system prompt and template), so no logits
are lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from harness.data.tokenize import IGNORE_INDEX

# The packed row's [N, N] mask is built in full: cap its size (64 MiB as bool).
MAX_PACKED_TOKENS = 8192

# Pack only when the packed row is estimated to cost at most this share of the padded batch.
WORTH_PACKING = 0.95

# An attended pair's multiply-adds take longer than a projection's. Fitted on the 2-core
# build CPU, SmolLM2-135M, the example data's two longest micro-batches (4 x 261 and
# 4 x 232, 83 tokens shared): packed they took 0.92 and 0.88 of the padded time, which
# this factor predicts (0.90, 0.85); 1 would predict 0.81 and 0.77, 3 predicts 0.98, 0.91.
ATTENTION_SLOWDOWN = 2.0


@dataclass(frozen=True)
class LayerCost:
    """One decoder layer's cost, in projection multiply-adds: per token, and per attended (query, key) pair."""

    per_token: float
    per_pair: float

    @classmethod
    def of(cls, config: Any) -> LayerCost:
        """From a transformers config (Llama-family names; missing sizes fall back to the usual ratios)."""
        text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
        hidden = text.hidden_size
        heads = getattr(text, "num_attention_heads", None) or max(hidden // 64, 1)
        head_dim = getattr(text, "head_dim", None) or hidden // heads
        kv_heads = getattr(text, "num_key_value_heads", None) or heads
        intermediate = getattr(text, "intermediate_size", None) or 4 * hidden
        projections = (2 * hidden * heads * head_dim          # queries and output
                       + 2 * hidden * kv_heads * head_dim     # keys and values
                       + 3 * hidden * intermediate)           # gated MLP
        return cls(per_token=float(projections), per_pair=2.0 * heads * head_dim * ATTENTION_SLOWDOWN)

    def padded(self, rows: int, width: int) -> float:
        return rows * width * (self.per_token + width * self.per_pair)

    def packed(self, tokens: int) -> float:
        return tokens * (self.per_token + tokens * self.per_pair)


@dataclass(frozen=True)
class PackedBatch:
    """One micro-batch as a single row: the shared prefix, then each row's own tokens."""

    input_ids: torch.Tensor     # [1, N]
    position_ids: torch.Tensor  # [1, N]: each token's position in its original row
    visible: torch.Tensor       # [N, N] bool: query i may attend key j
    trained: torch.Tensor       # [1, N] bool: the positions whose next token carries a label
    targets: torch.Tensor       # [trained positions]: those labels, in the padded batch's order
    prefix_length: int
    rows: int

    @property
    def tokens(self) -> int:
        return self.input_ids.shape[1]

    def attention_mask(self, additive: torch.dtype | None = None) -> torch.Tensor:
        """The [1, 1, N, N] mask: boolean (SDPA), or additive in ``additive``'s dtype (eager attention)."""
        mask = self.visible[None, None]
        if additive is None:
            return mask
        blocked = torch.zeros(mask.shape, dtype=additive, device=mask.device)
        return blocked.masked_fill_(~mask, torch.finfo(additive).min)


def trained_positions(labels: torch.Tensor) -> torch.Tensor:
    """[rows, width] bool: positions whose next token is trained (the causal shift)."""
    trained = torch.zeros_like(labels, dtype=torch.bool)
    trained[:, :-1] = labels[:, 1:] != IGNORE_INDEX
    return trained


def shared_prefix_length(input_ids: torch.Tensor, attention_mask: torch.Tensor, trained: torch.Tensor) -> int:
    """How many leading columns every row shares: the same real tokens and no trained position.

    At most one less than the shortest row, so every row keeps a token of its own.
    """
    shared = (input_ids == input_ids[:1]).all(0) & attention_mask.bool().all(0) & ~trained.any(0)
    differs = (~shared).nonzero()
    length = int(differs[0]) if len(differs) else input_ids.shape[1]
    return max(min(length, int(attention_mask.sum(1).min()) - 1), 0)


def pack_shared_prefix(input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor,
                       cost: LayerCost) -> PackedBatch | None:
    """The micro-batch packed around its shared prefix, or None when packing would not pay.

    Expects right padding (the collator's): each row's real tokens come first.
    """
    rows, width = input_ids.shape
    if rows < 2:
        return None
    real = attention_mask.bool()
    row_lengths = real.sum(1)
    if not real.equal(torch.arange(width, device=real.device)[None] < row_lengths[:, None]):
        return None  # not right-padded
    trained = trained_positions(labels)
    prefix = shared_prefix_length(input_ids, attention_mask, trained)
    tokens = prefix + int(row_lengths.sum()) - rows * prefix
    if prefix == 0 or tokens > MAX_PACKED_TOKENS or cost.packed(tokens) > WORTH_PACKING * cost.padded(rows, width):
        return None

    # The packed row: row 0's first ``prefix`` columns, then every row's own real tokens, row by row.
    own = real.clone()
    own[:, :prefix] = False
    columns = torch.arange(width, device=real.device).expand(rows, width)
    row_numbers = torch.arange(1, rows + 1, device=real.device)[:, None].expand(rows, width)
    position = torch.cat([columns[0, :prefix], columns[own]])
    owner = torch.cat([torch.zeros_like(columns[0, :prefix]), row_numbers[own]])  # 0: the prefix
    # A token sees earlier positions of its own row, and the prefix, which precedes every row.
    visible = (position[None, :] <= position[:, None]) & ((owner[None, :] == owner[:, None]) | (owner[None, :] == 0))
    targets_full = torch.full_like(labels, IGNORE_INDEX)
    targets_full[:, :-1] = labels[:, 1:]
    return PackedBatch(
        input_ids=torch.cat([input_ids[0, :prefix], input_ids[own]])[None],
        position_ids=position[None],
        visible=visible,
        trained=torch.cat([trained[0, :prefix], trained[own]])[None],
        targets=targets_full[trained],  # row by row, as the padded batch selects them
        prefix_length=prefix,
        rows=rows,
    )


__all__ = ["LayerCost", "PackedBatch", "MAX_PACKED_TOKENS", "pack_shared_prefix", "shared_prefix_length",
           "trained_positions"]
