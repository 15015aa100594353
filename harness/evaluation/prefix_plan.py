"""How shared-prefix scoring plans its work, before any model runs: which requests share a context,
how their continuations pack into rows, and where batches are cut.

Pure bookkeeping over token ids (no torch, no model), used by
:func:`harness.evaluation.prefix.score_continuations`, which runs the passes.
Requests are grouped by their (truncated) context (:func:`group_by_context`);
each context's continuations are merged into token tries that fill the rows of
a continuation pass (:class:`Row`, :func:`trie_rows`); contexts and rows are cut
into forward passes at least cost (:func:`cut_batches`, :func:`prefix_batches`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence, TypeVar

# What one more forward pass costs, in tokens: batches are cut where the padding
# they save outweighs it. Every pass streams all weights from memory whatever
# its size (on these 2-core CPUs a 4-token pass takes as long as ~50 tokens in a
# large one); a padded token costs as much as a real one.
PASS_COST_TOKENS = 128

Request = tuple[Sequence[int], Sequence[int]]  # (context ids, continuation ids)


@dataclass
class Context:
    """One distinct context (after truncation) and the requests that share it."""

    tokens: tuple[int, ...]
    requests: list[int] = field(default_factory=list)

    @property
    def prefix_length(self) -> int:
        # The last context token is the first input of each of its continuations,
        # so only the tokens before it go through the prefix pass.
        return len(self.tokens) - 1


@dataclass
class Row:
    """Continuations of one context, merged into a token trie that fills one row of a continuation pass.

    A continuation x1 .. xm needs the inputs (last context token, x1 .. x(m-1)),
    whose logits predict x1 .. xm. Continuations that start alike (PIQA's two
    solutions often differ in a word or two) share those inputs: each distinct
    consumed prefix is one *node* of the row, run once; a node attends to the
    cached context and to its ancestors, and sits at the position its depth
    gives it, exactly as it would in ``context + continuation``.
    """

    context: int  # slot of its context in the prefix batch
    last_token: int  # the context's last token: the input of the root node
    requests: list[int] = field(default_factory=list)  # request indices, in packing order
    continuations: list[list[int]] = field(default_factory=list)  # their continuations, same order
    inputs: list[int] = field(default_factory=list)  # per node: its input token
    parents: list[int] = field(default_factory=list)  # per node: its parent node (-1 for the root)
    depths: list[int] = field(default_factory=list)  # per node: tokens of the continuation consumed before it
    paths: list[list[int]] = field(default_factory=list)  # per continuation: the node predicting each token
    _nodes: dict[tuple[int, ...], int] = field(default_factory=dict)  # consumed prefix -> node

    @property
    def length(self) -> int:
        return len(self.inputs)

    def new_nodes(self, continuation: Sequence[int]) -> int:
        """How many nodes adding ``continuation`` would create."""
        return sum(tuple(continuation[:i]) not in self._nodes for i in range(len(continuation)))

    def add(self, request: int, continuation: list[int]) -> None:
        path, parent = [], -1
        for i in range(len(continuation)):
            key = tuple(continuation[:i])
            node = self._nodes.get(key)
            if node is None:
                node = self._nodes[key] = len(self.inputs)
                self.inputs.append(self.last_token if i == 0 else continuation[i - 1])
                self.parents.append(parent)
                self.depths.append(i)
            path.append(node)
            parent = node
        self.requests.append(request)
        self.continuations.append(continuation)
        self.paths.append(path)


def _truncated_context(context: Sequence[int], continuation: Sequence[int], max_length: int | None) -> tuple[int, ...]:
    """The context HFLM actually conditions on.

    HFLM feeds ``(context + continuation)[-(max_length + 1):][:-1]``: the
    continuation is always whole and the context loses tokens on the left.
    That depends on the continuation's length, so truncation is applied per
    request, before requests are grouped by context.
    """
    if not context:
        raise ValueError("empty context: put a BOS/EOS token in front (lm-eval uses its prefix token)")
    if not continuation:
        raise ValueError("empty continuation: nothing to score")
    if max_length is None:
        return tuple(context)
    if len(continuation) > max_length:
        raise ValueError(f"continuation of {len(continuation)} tokens exceeds max_length={max_length}")
    return tuple(context[-(max_length + 1 - len(continuation)) :])


def group_by_context(requests: Sequence[Request], max_length: int | None) -> list[Context]:
    """Distinct contexts, longest first, each listing its requests."""
    by_tokens: dict[tuple[int, ...], Context] = {}
    for index, (context, continuation) in enumerate(requests):
        tokens = _truncated_context(context, continuation, max_length)
        by_tokens.setdefault(tokens, Context(tokens)).requests.append(index)
    # Longest first, as HFLM does: an out-of-memory error shows up on the first batch.
    return sorted(by_tokens.values(), key=lambda ctx: -len(ctx.tokens))


def trie_rows(ctx: Context, slot: int, continuations: list[list[int]], capacity: int) -> Iterator[Row]:
    """``ctx``'s continuations packed into rows of at most ``capacity`` nodes (a lone one may exceed it)."""
    row = Row(slot, ctx.tokens[-1])
    for request in ctx.requests:
        continuation = continuations[request]
        if row.requests and row.length + row.new_nodes(continuation) > capacity:
            yield row
            row = Row(slot, ctx.tokens[-1])
        row.add(request, continuation)
    yield row


T = TypeVar("T")


def cut_batches(items: list[T], size: Callable[[T], int], budget: int, extra_width: int = 0) -> list[list[T]]:
    """Split ``items`` (sorted by ``size``, largest first) into consecutive batches, at least cost.

    A batch is padded to its first item's size; it costs its padded tokens plus
    :data:`PASS_COST_TOKENS` for the forward pass itself, and must keep
    count x (first size + ``extra_width``) within ``budget`` (a lone item may
    exceed it). An exact dynamic programme over the cut points: ``best[j]`` is
    the least cost of the first ``j`` items, ``cut[j]`` where its last batch starts.
    """
    best = [0] + [float("inf")] * len(items)
    cut = [0] * (len(items) + 1)
    for end in range(1, len(items) + 1):
        for start in range(end - 1, -1, -1):  # the last batch is items[start:end]
            count, width = end - start, size(items[start])
            if count > 1 and count * (width + extra_width) > budget:
                break  # widths only grow as start moves left
            cost = best[start] + count * width + PASS_COST_TOKENS
            if cost < best[end]:
                best[end], cut[end] = cost, start
    batches = []
    end = len(items)
    while end > 0:
        batches.append(items[cut[end] : end])
        end = cut[end]
    return batches[::-1]


def prefix_batches(contexts: list[Context], budget: int) -> Iterator[list[Context]]:
    """Contexts (longest first) in batches for the prefix pass.

    Contexts of one token (an empty prefix) get batches of their own: in a
    batch with others their prefix row would be all padding, and a fully masked
    attention row can produce NaNs that would leak through the cache.
    """
    with_prefix = [ctx for ctx in contexts if ctx.prefix_length > 0]
    without = [ctx for ctx in contexts if ctx.prefix_length == 0]
    yield from cut_batches(with_prefix, lambda ctx: ctx.prefix_length, budget)
    # No prefix pass runs for these; the budget applies to their continuation chunks.
    if without:
        yield without
