"""Helpers harness shares with its plugins, by what a plugin does with them.

Imported explicitly (so a type checker and go-to-definition see the real function).
Nothing here imports torch at import time; the two helpers that score a loaded model
live in :mod:`harness.scoring`, which does.
"""

from __future__ import annotations

# files: written whole or not at all
from harness.files import atomic_path, write_atomic

# text and tokens
from harness.data.tokenize import IGNORE_INDEX, encode, token_length
from harness.models.generation import Answer, generate

# models, data and caches
from harness.hardware import gpu_only_problems
from harness.data.decontamination import EvaluatedTexts
from harness.data.sources import load_prompt_set
from harness.models.loading import cache_root, hub_offline, weights_fingerprint
from harness.progress import stage_bar

# items: the core's one seeded order per benchmark
from harness.evaluation.scoring import sample_item_ids, take_items

# the interpolation search, for retrain policies
from harness.loop.interpolation import bisect_scale, choose_scale

# statistics and verdicts, for renderers
from harness.evaluation.breakdown import group_above_threshold
from harness.evaluation.gate import STATUS_LABELS, comparison_row, markdown_table, status_label
from harness.evaluation.stats import format_pct, status_of

# the model card, for reporters
from harness.model_card import write_model_card

__all__ = [
    "IGNORE_INDEX", "STATUS_LABELS", "Answer", "EvaluatedTexts", "atomic_path", "bisect_scale", "cache_root", "choose_scale",
    "comparison_row", "encode", "format_pct", "generate", "gpu_only_problems", "group_above_threshold", "hub_offline",
    "load_prompt_set", "markdown_table", "sample_item_ids", "stage_bar", "status_label", "status_of",
    "take_items", "token_length", "weights_fingerprint", "write_atomic", "write_model_card",
]
