"""Sequence lengths against ``sequence_len``: report over-long examples, then fail, truncate or drop.

Lengths are measured on the text the trainer will see (the model's chat template
applied), with the model's own tokenizer.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

from harness.errors import UsageError
from harness.records import Example
from harness.data.examples import DataValidationError, Problem
from harness.data.tokenize import encode, token_length

Overflow = Literal["fail", "truncate", "drop"]


@dataclass
class LengthReport:
    """Token lengths of a set of examples and what happened to the over-long ones."""

    sequence_len: int
    action: Overflow
    lengths: list[int]
    over: list[tuple[str, int]] = field(default_factory=list)  # (origin, tokens) beyond sequence_len
    # Truncated examples whose assistant turns all fell past the cut: no loss left to learn from.
    emptied: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        lengths = sorted(self.lengths)
        if not lengths:
            return {"examples": 0}
        return {
            "examples": len(lengths),
            "min": lengths[0],
            "median": statistics.median(lengths),
            "p95": lengths[min(len(lengths) - 1, int(0.95 * len(lengths)))],
            "max": lengths[-1],
            "total_tokens": sum(lengths),
            "over_sequence_len": len(self.over),
            "sequence_len": self.sequence_len,
        }


def measure_lengths(examples: Sequence[Example], tokenizer: Any, progress: bool = False) -> list[int]:
    """Untruncated token length of each example, rendered with the tokenizer's chat template."""
    items: Any = examples
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(examples, desc="measuring token lengths", unit="ex", leave=False)
    return [token_length(example, tokenizer) for example in items]


def check_lengths(
    examples: Sequence[Example],
    tokenizer: Any,
    sequence_len: int,
    overflow: Overflow = "fail",
    train_on: Literal["assistant", "all"] = "assistant",
    progress: bool = False,
) -> tuple[list[Example], LengthReport]:
    """Examples fit for ``sequence_len`` and a report of the ones that were not.

    ``fail`` raises listing each over-long example; ``truncate`` keeps them (the
    trainer cuts them at ``sequence_len``) except those left with no trained
    token after the cut, which are dropped and listed in ``emptied``; ``drop``
    removes every over-long example.
    """
    if overflow not in ("fail", "truncate", "drop"):
        raise UsageError(f"overflow must be one of fail, truncate, drop; got {overflow!r}")
    lengths = measure_lengths(examples, tokenizer, progress)
    report = LengthReport(sequence_len, overflow, lengths)
    kept = []
    for example, length in zip(examples, lengths):
        if length <= sequence_len:
            kept.append(example)
            continue
        report.over.append((example.origin, length))
        if overflow == "truncate":
            if encode(example, tokenizer, max_length=sequence_len, train_on=train_on).trained_tokens == 0:
                report.emptied.append(example.origin)
            else:
                kept.append(example)
    if report.over and overflow == "fail":
        problems = [Problem(origin, f"{tokens} tokens > sequence_len {sequence_len}") for origin, tokens in report.over]
        raise DataValidationError(
            "data", problems, what="over-long example",
            hint="raise sequence_len, or choose truncate or drop for over-long examples",
        )
    return kept, report


def _nice_width(span: int, bins: int) -> int:
    raw = max(1, -(-span // bins))
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= raw:
                return step * scale
        scale *= 10


def histogram(lengths: Sequence[int], bins: int = 10, width: int = 40) -> list[str]:
    """Text rows of a token-length histogram: about ``bins`` equal bins of a round width."""
    if not lengths:
        return []
    step = _nice_width(max(lengths) - min(lengths) + 1, bins)
    low = min(lengths) // step * step
    counts = Counter((n - low) // step for n in lengths)
    peak = max(counts.values())
    rows = []
    for b in range(max(counts) + 1):
        count = counts.get(b, 0)
        bar = "#" * max(1 if count else 0, round(width * count / peak))
        rows.append(f"{low + b * step:>6}-{low + (b + 1) * step - 1:<6} {count:>7}  {bar}")
    return rows
